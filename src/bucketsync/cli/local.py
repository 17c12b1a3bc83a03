"""``bucketsync local up|demo``: the embedded emulator stack."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel

from bucketsync.aws.clients import Clients
from bucketsync.cli.common import usable_directory
from bucketsync.cli.processed import Processed
from bucketsync.compose import build_parts
from bucketsync.engine.pipeline import Engine
from bucketsync.local.emulator import Emulator, emulator_settings, settings_for
from bucketsync.local.stack import StackNames, ensure_records_tables, ensure_stack
from bucketsync.record_routes import load_routes
from bucketsync.runtimes.build import build_worker
from bucketsync.runtimes.stopping import install_signal_handlers
from bucketsync.settings import Settings
from bucketsync.sinks.mirror import MirrorSink

_STACK_FIELDS = {
    "endpoint_url",
    "region",
    "access_key_id",
    "secret_access_key",
    "table",
    "queue_url",
    "wait_time_seconds",
}

app = typer.Typer(no_args_is_help=True, help="Run the whole pipeline on this machine.")


@app.command("demo")
def demo() -> None:
    """Run the scripted scenario on a fresh emulator; exit 0 if everything converged."""
    # Imported here: the demo runs the sync service, whose packages (FastAPI, uvicorn) come
    # with the [local] and [service] extras, not with the CLI alone.
    from bucketsync.cli import demo as demo_script  # noqa: PLC0415

    raise typer.Exit(demo_script.run())


@app.command("up")
def up(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Emulator port (0: any free port).")] = 0,
    prefix: Annotated[
        str | None, typer.Option(help="Name the bucket, queues and table after this.")
    ] = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            help="Also mirror the bucket and run the sync service (bucketsync serve) on "
            "127.0.0.1:<api_port>.",
        ),
    ] = False,
    mirror_dir: Annotated[
        str | None,
        typer.Option(help="With --serve: the mirror directory (default ./bucketsync-mirror)."),
    ] = None,
) -> None:
    """Start the emulator, create the stack, run the worker; Ctrl-C stops everything."""
    console = Console()
    names = StackNames.named(prefix) if prefix else StackNames.default()
    with Emulator(port=port or None) as emulator:
        base: Settings = ctx.obj
        # The user's sync options carry over, with the emulator's own defaults where the user
        # set none (write mode, ordering); where AWS is and what to sync is the stack's.
        options = base.for_emulator().model_dump(exclude=_STACK_FIELDS)
        settings = emulator_settings(emulator, **options, table=names.table)
        clients = Clients(settings)
        stack = ensure_stack(clients, names)
        # The rows' tables of the configured routing rules, so records work out of the box.
        ensure_records_tables(clients, load_routes(settings.routes, settings.routes_file))
        settings = settings.override(queue_url=stack.queue_url, bucket=stack.bucket)
        if serve:
            settings = settings.override(
                mirror_dir=mirror_dir or settings.mirror_dir or "bucketsync-mirror"
            )
        if settings.mirror_dir:
            # Absolute, so the line below works from any directory; checked before it starts.
            where = "--mirror-dir (BUCKETSYNC_MIRROR_DIR)"
            root = usable_directory(settings.mirror_dir, where).resolve()
            settings = settings.override(mirror_dir=str(root))
        env = {
            **settings_for(emulator),
            "BUCKETSYNC_BUCKET": stack.bucket,
            "BUCKETSYNC_TABLE": stack.table,
            "BUCKETSYNC_QUEUE_URL": stack.queue_url,
            "BUCKETSYNC_WRITE_MODE": settings.write_mode,
            "BUCKETSYNC_ORDERING": settings.ordering,
            **({"BUCKETSYNC_MIRROR_DIR": settings.mirror_dir} if settings.mirror_dir else {}),
        }
        mirror_line = f"\nmirror    {settings.mirror_dir}" if settings.mirror_dir else ""
        console.print(
            Panel(
                f"endpoint  {emulator.endpoint_url}\nbucket    {stack.bucket}\n"
                f"queue     {stack.queue_url}\ndlq       {stack.dlq_url}\n"
                f"table     {stack.table}{mirror_line}",
                title="bucketsync local stack — Ctrl-C to stop",
            )
        )
        console.print("# to use it from boto3, the AWS CLI or bucketsync, in another shell:")
        # Plain lines, so `eval "$(grep ^export ...)"` and copy-paste both work.
        for name, value in env.items():
            console.print(f"export {name}={value}", soft_wrap=True, highlight=False)
        console.print(
            f"# aws --endpoint-url {emulator.endpoint_url} s3 cp FILE s3://{stack.bucket}/\n"
            f"# bucketsync catalog ls s3://{stack.bucket}/",
            soft_wrap=True,
            highlight=False,
        )
        if settings.mirror_dir:
            console.print(f"# ls {settings.mirror_dir}", soft_wrap=True, highlight=False)
        console.file.flush()
        stop = threading.Event()
        install_signal_handlers(stop)
        parts = build_parts(settings, clients)
        engine = parts.engine
        worker = build_worker(settings, clients, queue_url=stack.queue_url, engine=engine)
        with contextlib.ExitStack() as running:
            if serve and parts.mirror is not None:
                port = running.enter_context(_service(settings, clients, engine, parts.mirror))
                console.print(
                    f"sync service  http://127.0.0.1:{port}  (docs /docs), mirror in "
                    f"{settings.mirror_dir}",
                    soft_wrap=True,
                    highlight=False,
                )
            with Processed(console, worker):
                stats = worker.run(stop)
        engine.close()
        console.print(f"stopped: applied {stats.succeeded} messages, {stats.failed} failed")


@contextlib.contextmanager
def _service(
    settings: Settings, clients: Clients, engine: Engine, mirror: MirrorSink
) -> Iterator[int]:
    """The sync service over the worker's own mirror, so both see one state store."""
    # Imported here: FastAPI and uvicorn come with the [local] and [service] extras.
    from bucketsync.api import create_app  # noqa: PLC0415
    from bucketsync.api.service import ServiceParts, observe  # noqa: PLC0415
    from bucketsync.local.server_thread import serving  # noqa: PLC0415

    # The worker applies through the same engine: the status page sees what it does.
    parts = ServiceParts(engine, mirror, clients, observe(engine, mirror))
    app = create_app(settings, parts=parts)
    with serving(app, "127.0.0.1", settings.api_port) as port:
        yield port
