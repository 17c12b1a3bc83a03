"""``bucketsync load s3://bucket/key --table T``: one file's rows into a table, by hand.

The same ingestion the records sink runs on events (claim, stream, checkpoint, flip, sweep),
stamped by observation, with a progress bar. ``--dry-run`` reads and checks every row and
writes nothing. Before anything is written the object, the table and its key schema are
checked: a missing one, or a table keyed otherwise than the rows, is one line (exit 66, 78).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

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

from bucketsync.aws import buckets
from bucketsync.aws.clients import Clients
from bucketsync.aws.dynamo import key_schema
from bucketsync.aws.s3 import S3ObjectSource
from bucketsync.cli.common import parse_s3_uri
from bucketsync.cli.exits import EXIT_NO_INPUT, fail
from bucketsync.compose import build_loader
from bucketsync.engine.stamp import ObservationClock
from bucketsync.engine.state import ObjectState
from bucketsync.errors import ConfigurationError
from bucketsync.settings import Settings
from bucketsync.sinks.records.formats import FormatOptions
from bucketsync.sinks.records.job import LoadOutcome, LoadReport
from bucketsync.sinks.records.target import Target
from bucketsync.sinks.tables import PK, SK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

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
    if key_field and len(key_field) > 2:
        raise typer.BadParameter("--key names a partition key and at most one sort key")
    options = FormatOptions(
        kind=fmt,  # type: ignore[arg-type]  # FormatOptions checks it
        delimiter=delimiter,
        column_types=_column_types(column_type or []),  # type: ignore[arg-type]  # and these
    )
    clients = Clients(settings)
    target = Target(
        table=table,
        options=options,
        key_fields=tuple(key_field or ()),
        manifest_table=settings.table,
    )
    # Both before the first write: a missing table, or one keyed otherwise than the rows,
    # would fail every row and still commit a new generation of none.
    found = _the_object(clients, uri, bucket, key)
    _check_tables(clients.dynamodb, target, dry_run=dry_run)
    loader = build_loader(settings, clients)
    console = Console(stderr=True)
    with _bar(console, found.size or 0) as (bar, task):

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
                etag=found.etag,
                version_id=found.version_id,
                progress=progress,
            )
    _summary(console, uri, table, report, dry_run=dry_run)
    if report.outcome == LoadOutcome.REJECTED:
        raise typer.Exit(EXIT_UNPARSEABLE)
    if report.bad:
        raise typer.Exit(EXIT_BAD_ROWS)


def _the_object(clients: Clients, uri: str, bucket: str, key: str) -> ObjectState:
    """The object to load, or one line saying why there is none (exit 66)."""
    found = S3ObjectSource(clients.s3).lookup(bucket, key)
    if found.present:
        return found
    # HeadObject answers 404 alike for a missing key and a missing bucket: ask which.
    if not buckets.exists(clients.s3, bucket):
        fail(f"error: {uri}: there is no bucket {bucket!r}", EXIT_NO_INPUT)
    folder = key if key.endswith("/") else f"{key}/"
    if buckets.holds_objects(clients.s3, bucket, folder):
        fail(
            f"error: {uri} is a prefix, not an object: load takes one file "
            f"(s3://{bucket}/{folder}<name>)",
            EXIT_NO_INPUT,
        )
    fail(f"error: {uri}: no such object", EXIT_NO_INPUT)


def _check_tables(dynamodb: DynamoDBClient, target: Target, *, dry_run: bool) -> None:
    """Refuse a rows' table that is missing or keyed otherwise than the rows will be, and
    (with --key) a missing catalog table for the manifests. A dry run writes nothing, so it
    needs no table; one that exists is still checked."""
    wanted = target.key_fields or (PK, SK)
    have = key_schema(dynamodb, target.table)
    if have is None:
        if dry_run:
            return
        raise ConfigurationError(f"table {target.table!r} does not exist; {_create(target)}")
    if have != wanted and target.key_fields:
        refused = " ".join(f"--key {name}" for name in target.key_fields)
        raise ConfigurationError(
            f"table {target.table!r} is keyed by {_keys(have)}, not by {refused}: give "
            "--key once for each of its key attributes, partition key first"
            + ("; or load without --key, as pk and sk are its layout" if have == (PK, SK) else "")
        )
    if have != wanted:
        keyed = " ".join(f"--key {name}" for name in have)
        raise ConfigurationError(
            f"table {target.table!r} is keyed by {_keys(have)}; a load without --key needs "
            f"pk (partition) and sk (sort): load its rows by their own key with {keyed}"
        )
    manifests = target.manifest_table if target.key_fields and not dry_run else None
    if manifests and key_schema(dynamodb, manifests) != (PK, SK):
        raise ConfigurationError(
            f"rows loaded with --key keep their manifests in the catalog table, and "
            f"{manifests!r} is missing or not keyed by pk and sk: name it with "
            "BUCKETSYNC_TABLE (or bucketsync --table NAME load ...)"
        )


def _keys(names: tuple[str, ...]) -> str:
    roles = ("partition", "sort")
    return " and ".join(f"{name} ({role})" for name, role in zip(names, roles, strict=False))


def _create(target: Target) -> str:
    """How to make the table: the AWS CLI command, its key as the load will write it."""
    names = target.key_fields or (PK, SK)
    types = " ".join(f"AttributeName={name},AttributeType=S" for name in names)
    schema = " ".join(
        f"AttributeName={name},KeyType={kind}"
        for name, kind in zip(names, ("HASH", "RANGE"), strict=False)
    )
    numbers = " (AttributeType=N for a numeric key)" if target.key_fields else ""
    return (
        f"create it keyed by {_keys(names)}: aws dynamodb create-table --table-name "
        f"{target.table} --attribute-definitions {types} --key-schema {schema} "
        f"--billing-mode PAY_PER_REQUEST{numbers}"
    )


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
    if report.outcome == LoadOutcome.REJECTED:
        console.print(f"[red]✗[/] {escape(uri)} cannot be read: {escape(report.failure or '')}")
        return
    if report.outcome == LoadOutcome.STALE:
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
