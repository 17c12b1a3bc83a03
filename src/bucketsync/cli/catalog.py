"""``bucketsync catalog ls|get``: read the catalog (Rich table, or --json)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bucketsync.aws.clients import Clients
from bucketsync.cli.common import parse_s3_uri
from bucketsync.settings import Settings
from bucketsync.sinks.catalog.reader import CatalogReader

app = typer.Typer(no_args_is_help=True, help="Read the DynamoDB catalog.")

COLUMNS = ("object_key", "size", "etag", "content_type", "last_modified", "event_type")


def _reader(ctx: typer.Context) -> CatalogReader:
    settings: Settings = ctx.obj
    return CatalogReader(Clients(settings).dynamodb, settings.table)


def render(items: list[dict[str, Any]], title: str, columns: tuple[str, ...] = COLUMNS) -> Table:
    table = Table(title=Text(title))
    for column in columns:
        table.add_column(column, overflow="fold", justify="right" if column == "size" else "left")
    for item in items:
        style = "dim strike" if item.get("deleted") else None
        # Keys are data, never Rich markup: 'report [final].pdf' must show as it is.
        table.add_row(*(escape(_cell(item, c)) for c in columns), style=style)
    return table


def _cell(item: dict[str, Any], column: str) -> str:
    value = item.get(column)
    if value is None:
        return "(deleted)" if column == "size" and item.get("deleted") else ""
    if column == "etag":
        return str(value)[:12]
    return str(value)


@app.command("ls")
def ls(
    ctx: typer.Context,
    uri: Annotated[str, typer.Argument(help="s3://bucket/prefix")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    deleted: Annotated[bool, typer.Option(help="Include tombstones.")] = False,
) -> None:
    """List catalogued objects under a prefix."""
    bucket, prefix = parse_s3_uri(uri)
    items = _reader(ctx).list(bucket, prefix, include_deleted=deleted)
    if as_json:
        for item in items:
            typer.echo(json.dumps(item, ensure_ascii=False, default=str))
        return
    rows = list(items)
    Console().print(render(rows, f"{uri} — {len(rows)} object(s)"))


@app.command("get")
def get(
    ctx: typer.Context,
    uri: Annotated[str, typer.Argument(help="s3://bucket/key")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show one catalog item (exit 1 if the key is not catalogued)."""
    bucket, key = parse_s3_uri(uri)
    item = _reader(ctx).get(bucket, key)
    if item is None:
        typer.secho(f"{uri}: not in the catalog", err=True, fg="yellow")
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(item, ensure_ascii=False, default=str, indent=2))
        return
    table = Table("attribute", "value", title=Text(uri))
    for name in sorted(item):
        table.add_row(name, Text(json.dumps(item[name], ensure_ascii=False, default=str)))
    Console().print(table)
