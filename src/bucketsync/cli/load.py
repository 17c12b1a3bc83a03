"""``bucketsync load s3://bucket/key --table T``: one file's rows into a table, by hand.

The same ingestion the records sink runs on events (claim, stream, checkpoint, flip, sweep),
stamped by observation, with a progress bar. ``--dry-run`` reads and checks every row and
writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from bucketsync.aws.clients import Clients
from bucketsync.cli.common import parse_s3_uri
from bucketsync.engine.stamp import ObservationClock
from bucketsync.errors import ConfigurationError
from bucketsync.settings import Settings
from bucketsync.sinks.records.formats import FormatOptions
from bucketsync.sinks.records.loader import FileLoader, LoadReport, Target

EXIT_BAD_ROWS = 1
EXIT_UNPARSEABLE = 65  # EX_DATAERR


def run(
    ctx: typer.Context,
    uri: Annotated[str, typer.Argument(help="s3://bucket/key of a JSON, JSON Lines or CSV file.")],
    *,
    table: Annotated[str, typer.Option("--table", help="DynamoDB table for the rows.")],
    fmt: Annotated[
        str, typer.Option("--format", help="auto (from the suffix), json, jsonl or csv.")
    ] = "auto",
    delimiter: Annotated[str, typer.Option(help="CSV delimiter.")] = ",",
    column_type: Annotated[
        list[str] | None,
        typer.Option("--column-type", help="CSV column type, NAME=int|decimal|bool|json."),
    ] = None,
    key_field: Annotated[
        list[str] | None,
        typer.Option(
            "--key",
            help="Row field keying the item in a shared table (once, or twice for a sort key); "
            "its manifest goes to the catalog table (--table of bucketsync itself).",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Check every row; write nothing.")] = False,
) -> None:
    """Load one file's rows into a table (or, with --dry-run, only report its bad rows)."""
    settings: Settings = ctx.obj
    bucket, key = parse_s3_uri(uri)
    if not key:
        raise typer.BadParameter(f"{uri!r} names no object")
    options = FormatOptions(
        kind=fmt,  # type: ignore[arg-type]  # FormatOptions checks it
        delimiter=delimiter,
        column_types=_column_types(column_type or []),  # type: ignore[arg-type]  # and these
    )
    clients = Clients(settings)
    loader = FileLoader(clients.s3, clients.dynamodb)
    if key_field and len(key_field) > 2:
        raise typer.BadParameter("--key names a partition key and at most one sort key")
    target = Target(
        table=table,
        options=options,
        key_fields=tuple(key_field or ()),
        manifest_table=settings.table,
    )
    console = Console(stderr=True)
    head = clients.s3.head_object(Bucket=bucket, Key=key)
    with _bar(console, int(head["ContentLength"])) as (bar, task):

        def progress(report: LoadReport, read: int) -> None:
            bar.update(task, completed=read, rows=report.rows, bad=report.bad)

        if dry_run:
            report = loader.validate(target, bucket, key, progress)
        else:
            report = loader.load(
                target,
                bucket,
                key,
                ObservationClock().stamp(),
                etag=head["ETag"].strip('"'),
                version_id=head.get("VersionId"),
                progress=progress,
            )
    _summary(console, uri, table, report, dry_run=dry_run)
    if report.outcome == "rejected":
        raise typer.Exit(EXIT_UNPARSEABLE)
    if report.bad:
        raise typer.Exit(EXIT_BAD_ROWS)


def _column_types(specs: list[str]) -> dict[str, str]:
    types: dict[str, str] = {}
    for spec in specs:
        name, sep, kind = spec.partition("=")
        if not sep or not name:
            raise ConfigurationError(f"--column-type {spec!r}: expected NAME=TYPE")
        types[name] = kind
    return types


@contextmanager
def _bar(console: Console, total: int) -> Iterator[tuple[Progress, TaskID]]:
    """A Rich progress bar over the object's bytes, with rows and bad rows beside it."""
    progress = Progress(
        TextColumn("{task.fields[rows]:,} rows, {task.fields[bad]:,} bad"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    task = progress.add_task("load", total=total or None, rows=0, bad=0)
    with progress:
        yield progress, task


def _summary(console: Console, uri: str, table: str, report: LoadReport, *, dry_run: bool) -> None:
    if report.outcome == "rejected":
        console.print(f"[red]✗[/] {escape(uri)} cannot be read: {escape(report.failure or '')}")
        return
    if report.outcome == "stale":
        console.print(f"{escape(uri)}: a newer version is already loaded into {escape(table)}")
        return
    verb = "would load" if dry_run else f"loaded into {escape(table)}"
    mark = "[green]✓[/]" if not report.bad else "[yellow]![/]"
    extra = "" if dry_run else f", generation {report.gen}, {report.swept:,} stale rows removed"
    console.print(f"{mark} {escape(uri)}: {verb} {report.rows:,} rows, {report.bad:,} bad{extra}")
    if report.errors:
        errors = Table("row", "line", "reason", title="bad rows (first 100)")
        for error in report.errors:
            errors.add_row(str(error["index"]), str(error["line"]), escape(str(error["reason"])))
        console.print(errors)
