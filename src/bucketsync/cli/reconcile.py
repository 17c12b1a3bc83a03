"""``bucketsync reconcile``: make the sinks equal to the bucket (docs/reconcile.md).

Thin: parse, build the sinks and the source from the settings, run, print, exit 0/1/2.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from bucketsync.aws.clients import Clients
from bucketsync.aws.s3 import S3ObjectSource
from bucketsync.cli.common import parse_s3_uri
from bucketsync.compose import SINK_NAMES, reconcile_sinks
from bucketsync.errors import BucketSyncError
from bucketsync.reconcile.checkpoint import FileCheckpoints, default_path, run_signature
from bucketsync.reconcile.inventory import InventoryListing
from bucketsync.reconcile.listing import S3Listing, Source
from bucketsync.reconcile.report import CLASSES, Report
from bucketsync.reconcile.run import Options, Reconciler
from bucketsync.reconcile.shards import plan
from bucketsync.settings import Settings

log = logging.getLogger(__name__)

LOG_EVERY = 10.0  # seconds between two progress lines when not on a terminal


def run(
    ctx: typer.Context,
    uri: Annotated[str, typer.Argument(help="s3://bucket or s3://bucket/prefix")],
    *,
    sink: Annotated[
        list[str],
        typer.Option(help=f"Which sink: {', '.join(SINK_NAMES)} or all (repeatable)."),
    ] = ["all"],  # noqa: B006 - typer reads the default, never mutates it
    dry_run: Annotated[bool, typer.Option(help="Report the drift; change nothing.")] = False,
    max_delete: Annotated[
        int | None, typer.Option(min=0, help="Make at most this many deletes, then stop.")
    ] = None,
    head: Annotated[
        bool, typer.Option(help="HeadObject each drifted key (content type, metadata).")
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write the drift report here, as JSON.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    strict: Annotated[
        bool, typer.Option(help="Exit 1 when drift was found, even if it was repaired.")
    ] = False,
    resume: Annotated[
        bool, typer.Option(help="Continue the last interrupted run from its checkpoint.")
    ] = False,
    checkpoint: Annotated[
        Path | None, typer.Option(help="The checkpoint file (default: under ~/.cache).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Repairs in flight (BUCKETSYNC_RECONCILE_WORKERS).")
    ] = None,
    shards: Annotated[
        int | None,
        typer.Option(min=1, help="Key ranges listed at once (BUCKETSYNC_RECONCILE_SHARDS)."),
    ] = None,
    write_mode: Annotated[
        str | None,
        typer.Option(help="Catalog writes: single or transact (BUCKETSYNC_RECONCILE_WRITE_MODE)."),
    ] = None,
    inventory: Annotated[
        str | None,
        typer.Option(
            help="An S3 Inventory report's manifest.json (s3://...), read instead of listing "
            "the bucket (CSV; Parquet with the [parquet] extra)."
        ),
    ] = None,
) -> None:
    """Compare the bucket with each sink and repair the drift: missing, stale, phantom.

    Exit 0: in sync (or repaired). 1: drift found in a dry run (or at all, with --strict).
    2: an error (a listing or read error, a failed repair, a delete held back).
    """
    settings: Settings = ctx.obj
    settings = settings.override(
        reconcile_workers=workers, reconcile_shards=shards, reconcile_write_mode=write_mode
    )
    bucket, prefix = parse_s3_uri(uri)
    console = Console(stderr=True)
    try:
        outcome = _reconcile(
            settings,
            console,
            bucket,
            prefix,
            sink,
            dry_run=dry_run,
            max_delete=max_delete,
            head=head,
            resume=resume,
            checkpoint=checkpoint,
            quiet=as_json,
            inventory=inventory,
        )
    except BucketSyncError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    document = json.dumps(outcome.as_dict(), ensure_ascii=False, indent=1, default=str)
    if report is not None:
        report.write_text(document + "\n", encoding="utf-8")
    if as_json:
        typer.echo(document)
    else:
        _summary(Console(), outcome)
    raise typer.Exit(outcome.exit_code(strict=strict))


def _reconcile(
    settings: Settings,
    console: Console,
    bucket: str,
    prefix: str,
    which: list[str],
    *,
    dry_run: bool,
    max_delete: int | None,
    head: bool,
    resume: bool,
    checkpoint: Path | None,
    quiet: bool,
    inventory: str | None,
) -> Report:
    clients = Clients(settings)
    sinks = reconcile_sinks(settings, clients, which)
    reading: InventoryListing | None = None
    try:
        source: Source
        estimate: int | None = None
        if inventory:
            reading = InventoryListing(clients.s3, inventory, prefix=prefix, source_bucket=bucket)
            console.print(f"reading the inventory report of {reading.created:%Y-%m-%d %H:%M} UTC")
            reading.prepare()  # downloaded, verified and sorted once, for every shard
            source, estimate = reading, reading.rows
        else:
            source = S3Listing(clients.s3, bucket, prefix, page_size=settings.reconcile_page_size)
        origin = f"inventory:{inventory}" if inventory else source.origin
        signature = run_signature(bucket, prefix, [s.name for s in sinks], origin)
        checkpoints = FileCheckpoints(checkpoint or default_path(signature), signature)
        options = Options(
            dry_run=dry_run,
            max_delete=max_delete,
            head=head,
            workers=settings.reconcile_workers,
            parallel=settings.reconcile_shards,
        )
        shards = plan(clients.s3, bucket, prefix, settings.reconcile_shards)
        display = _Display(console, quiet=quiet, estimate=estimate or checkpoints.estimate())
        reconciler = Reconciler(
            source,
            sinks,
            options=options,
            lookup=S3ObjectSource(clients.s3) if head else None,
            checkpoints=None if dry_run else checkpoints,
            progress=display.update,
        )
        cancel = threading.Event()
        with display, _interruptible(cancel, console):
            outcome = reconciler.run(shards, resume=resume, cancel=cancel)
        if not dry_run and outcome.position is None:
            checkpoints.listed = outcome.listed  # the next run's estimate
            checkpoints.save({})
        if outcome.position is not None and not dry_run:
            console.print(
                f"[yellow]not finished:[/] run again with --resume to continue after "
                f"{escape(repr(outcome.position))} (checkpoint {checkpoints.path})"
            )
        return outcome
    finally:
        for made in sinks:
            made.close()
        if reading is not None:
            reading.close()


class _interruptible:
    """Ctrl-C (or SIGTERM) stops the run cleanly: repairs in flight settle, nothing is
    deleted, the checkpoint is saved. A second Ctrl-C is Python's own."""

    def __init__(self, cancel: threading.Event, console: Console) -> None:
        self._cancel = cancel
        self._console = console
        self._previous: list[object] = []

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for number in (signal.SIGINT, signal.SIGTERM):
            self._previous.append(signal.signal(number, self._stop))

    def __exit__(self, *exc: object) -> None:
        for number, previous in zip((signal.SIGINT, signal.SIGTERM), self._previous, strict=False):
            signal.signal(number, previous)  # type: ignore[arg-type]

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._console.print("[yellow]stopping: finishing the repairs in flight...[/]")
        self._cancel.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)


class _Display:
    """A live line on a terminal (listed, compared, repaired, rate, ETA); log lines elsewhere."""

    def __init__(self, console: Console, *, quiet: bool, estimate: int | None) -> None:
        self._live = console.is_terminal and not quiet
        self._estimate = estimate
        self._began = time.monotonic()
        self._logged = self._began
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("reconciling", total=None)

    def __enter__(self) -> None:
        if self._live:
            self._progress.start()

    def __exit__(self, *exc: object) -> None:
        if self._live:
            self._progress.stop()

    def update(self, report: Report) -> None:
        elapsed = max(time.monotonic() - self._began, 1e-6)
        repaired = sum(s.repaired for s in report.sinks.values())
        rate = report.compared / elapsed
        eta = ""
        if self._estimate and rate > 0 and report.compared < self._estimate:
            eta = f", ETA ~{(self._estimate - report.compared) / rate:,.0f} s"
        line = (
            f"listed {report.listed:,}, compared {report.compared:,}, repaired {repaired:,}, "
            f"{rate:,.0f} objects/s{eta}"
        )
        if self._live:
            self._progress.update(self._task, description=line)
        elif time.monotonic() - self._logged >= LOG_EVERY:
            self._logged = time.monotonic()
            log.info("reconcile: %s", line)


ROWS = (
    ("equal", "equal"),
    ("newer (an event is ahead)", "newer"),
    ("missing", "missing"),
    ("stale", "stale"),
    ("phantom", "phantom"),
    ("repaired", "repaired"),
    ("raced (left to the event)", "raced"),
    ("skipped", "skipped"),
    ("rejected", "rejected"),
    ("failed", "failed"),
    ("not deleted", "not_deleted"),
)


def _summary(console: Console, report: Report) -> None:
    title = (
        f"s3://{report.bucket}/{report.prefix}: {report.listed:,} listed in "
        f"{report.seconds:,.1f} s{' (dry run)' if report.dry_run else ''}"
    )
    console.print(escape(title))
    table = Table("", *report.sinks)
    for label, attribute in ROWS:
        values = [getattr(drift, attribute) for drift in report.sinks.values()]
        if any(values) or attribute in ("equal", *CLASSES):
            table.add_row(label, *(f"{value:,}" for value in values))
    console.print(table)
    for name, drift in report.sinks.items():
        for kind in CLASSES:
            if drift.first[kind]:
                keys = ", ".join(escape(repr(key)) for key in drift.first[kind])
                console.print(f"  {name} {kind}: {keys}")
    if report.deletes_refused:
        console.print(f"[yellow]no deletes made:[/] {escape(report.deletes_refused)}")
    for error in report.errors[:10]:
        console.print(f"[red]error:[/] {escape(error)}")
    if report.failed:
        console.print("[bold red]✗ errors: see above[/]")
    elif report.drift and report.dry_run:
        console.print(f"[bold yellow]drift: {report.drift:,} (dry run: nothing changed)[/]")
    elif report.drift:
        console.print(f"[bold green]✓ repaired[/] ({report.drift:,} drifted)")
    else:
        console.print("[bold green]✓ in sync[/]")
