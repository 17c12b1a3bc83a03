"""``bucketsync serve``: the HTTP sync service (FastAPI) on uvicorn, until SIGINT/SIGTERM.

The service mirrors; it needs no DynamoDB table, so the catalog is off unless
``BUCKETSYNC_CATALOG`` is set explicitly. With a queue (``BUCKETSYNC_QUEUE_URL`` or
``--queue-url``) it polls it for the bucket's events itself, so it needs neither the forwarding
Lambda nor a ``bucketsync worker`` beside it. Without an API token or HMAC secret its POST
routes are open, so it refuses to listen anywhere but loopback (exit 2). The port is bound, and
the mirror directory checked, before anything starts (exit 78 naming the setting if not).
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from pydantic import ValidationError

from bucketsync.cli.common import usable_directory
from bucketsync.cli.exits import EXIT_USAGE, explain_validation, fail
from bucketsync.errors import ConfigurationError
from bucketsync.logs import SERVICE
from bucketsync.settings import Settings

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# The settings this command's flags set, named by the flag in a refusal.
FLAGS = {
    "api_host": "--host (BUCKETSYNC_API_HOST)",
    "api_port": "--port (BUCKETSYNC_API_PORT)",
    "mirror_dir": "--mirror-dir (BUCKETSYNC_MIRROR_DIR)",
    "bucket": "--bucket (BUCKETSYNC_BUCKET)",
    "queue_url": "--queue-url (BUCKETSYNC_QUEUE_URL)",
}
PORT_HINT = "choose another with --port (BUCKETSYNC_API_PORT), or 0 for any free port"
log = logging.getLogger(__name__)


def run(
    ctx: typer.Context,
    *,
    host: Annotated[
        str | None, typer.Option(help="Listen address (BUCKETSYNC_API_HOST; default 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (BUCKETSYNC_API_PORT; default 8888; 0: any free).")
    ] = None,
    mirror_dir: Annotated[
        str | None, typer.Option(help="Mirror directory (BUCKETSYNC_MIRROR_DIR).")
    ] = None,
    bucket: Annotated[
        str | None, typer.Option(help="Bucket to mirror (BUCKETSYNC_BUCKET).")
    ] = None,
    periodic_sync: Annotated[
        bool | None,
        typer.Option(
            "--periodic-sync/--no-periodic-sync",
            help="Full sync at start and every sync_interval_hours.",
        ),
    ] = None,
    queue_url: Annotated[
        str | None,
        typer.Option(help="SQS queue of the bucket's events to poll (BUCKETSYNC_QUEUE_URL)."),
    ] = None,
) -> None:
    """Serve the mirror over HTTP: notifications in, files out, full syncs on demand."""
    # Imported here: FastAPI and uvicorn come with the [service] (or [local]) extra, and the
    # other commands must work without them.
    try:
        import uvicorn  # noqa: PLC0415

        from bucketsync.api import create_app  # noqa: PLC0415
        from bucketsync.api.auth import binding_problem  # noqa: PLC0415
        from bucketsync.local.server_thread import listening_socket  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigurationError(
            f"bucketsync serve needs the [service] extra ({exc.name} is missing): "
            "pip install 'bucketsync[service]'"
        ) from None

    given: Settings = ctx.obj
    try:
        settings = given.override(
            api_host=host,
            api_port=port,
            mirror_dir=mirror_dir,
            bucket=bucket,
            periodic_sync=periodic_sync,
            queue_url=queue_url,
        ).for_service()
    except ValidationError as exc:
        fail(f"error: {explain_validation(exc, FLAGS)}", EXIT_USAGE)
    problem = binding_problem(settings, settings.api_host)
    if problem:
        fail(f"error: {problem}", EXIT_USAGE)
    if settings.mirror_dir:  # unset: create_app says how to set it
        usable_directory(settings.mirror_dir, "--mirror-dir (BUCKETSYNC_MIRROR_DIR)")
    # Bound before the app exists: uvicorn would start the app (and its first full sync)
    # before binding, and only then find the port taken.
    sock = listening_socket(settings.api_host, settings.api_port, hint=PORT_HINT)
    try:
        # A configured queue is polled: a service that serves the mirror but hears no events
        # would go stale until its next full sync, with nothing to say so.
        app = create_app(settings, queue=settings.queue_url is not None)
        _share_logging()
        server = uvicorn.Server(
            uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_config=None)
        )
        # Given a socket, uvicorn does not say where it listens; the port may have been 0.
        log.info("serving on %s", _address(settings.api_host, sock.getsockname()[1]))
        server.run(sockets=[sock])
    finally:
        sock.close()


def _address(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _share_logging() -> None:
    """uvicorn's lines (startup, access log) through the handler the CLI set up for ours."""
    ours = logging.getLogger(SERVICE)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = ours.handlers if name == "uvicorn" else []
        logger.setLevel(ours.level)
        logger.propagate = name != "uvicorn"
