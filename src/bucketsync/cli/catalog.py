"""``bucketsync catalog ls|get``: read the catalog (Rich table, or --json).

``ls`` shows a page at a time (``--limit``; 100 rows in a table, every item with ``--json``)
and, when more follow, the command that continues after the last key shown (``--after``): one
Query from there, not a reread of what was shown. The table fits the terminal: narrower than
``WIDE`` columns it keeps the key, size, time and a short etag.
"""

from __future__ import annotations

import json
import shlex
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bucketsync.aws.clients import Clients
from bucketsync.aws.dynamo import paged_items
from bucketsync.cli.common import parse_s3_uri
from bucketsync.settings import Settings
from bucketsync.sinks.catalog import schema
from bucketsync.sinks.catalog.reader import CatalogReader, deserialize

app = typer.Typer(no_args_is_help=True, help="Read the DynamoDB catalog.")

COLUMNS = ("object_key", "size", "etag", "content_type", "last_modified", "event_type")
NARROW = ("object_key", "size", "last_modified", "etag")
WIDE = 140  # terminal columns from which every column of COLUMNS fits on one line a row
TABLE_LIMIT = 100  # rows a table shows unless --limit says otherwise
_FIXED = {"size", "etag", "last_modified"}  # never folded: the key folds instead


def _reader(ctx: typer.Context) -> CatalogReader:
    settings: Settings = ctx.obj
    return CatalogReader(Clients(settings).dynamodb, settings.table)


def render(
    items: list[dict[str, Any]],
    title: str,
    columns: tuple[str, ...] = COLUMNS,
    *,
    etag_chars: int = 12,
) -> Table:
    table = Table(title=Text(title))
    for column in columns:
        table.add_column(
            column,
            overflow="fold",
            no_wrap=column in _FIXED,
            justify="right" if column == "size" else "left",
        )
    for item in items:
        style = "dim strike" if item.get("deleted") else None
        # Keys are data, never Rich markup: 'report [final].pdf' must show as it is.
        table.add_row(*(escape(_cell(item, c, etag_chars)) for c in columns), style=style)
    return table


def _cell(item: dict[str, Any], column: str, etag_chars: int = 12) -> str:
    value = item.get(column)
    if value is None:
        return "(deleted)" if column == "size" and item.get("deleted") else ""
    if column == "etag":
        return str(value)[:etag_chars]
    if column == "size" and isinstance(value, int):
        return _bytes(value)
    if column == "last_modified":
        # ISO 8601 in UTC, as stored: the date and the second are what a person compares.
        return str(value).replace("T", " ").removesuffix("+00:00")[:19]
    return str(value)


def _bytes(size: int) -> str:
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


@app.command("ls")
def ls(
    ctx: typer.Context,
    uri: Annotated[str, typer.Argument(help="s3://bucket/prefix")],
    *,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    deleted: Annotated[bool, typer.Option(help="Include tombstones.")] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            min=0,
            help=f"At most this many objects (default {TABLE_LIMIT} in the table, all with "
            "--json; 0: all).",
        ),
    ] = None,
    after: Annotated[
        str | None,
        typer.Option(help="Start after this key (what a listing cut by --limit prints)."),
    ] = None,
) -> None:
    """List catalogued objects under a prefix, in key order, a page at a time."""
    settings: Settings = ctx.obj
    bucket, prefix = parse_s3_uri(uri)
    cap = limit if limit is not None else (0 if as_json else TABLE_LIMIT)
    rows, more = _page(settings, bucket, prefix, after=after, cap=cap, deleted=deleted)
    if as_json:
        for item in rows:
            typer.echo(json.dumps(item, ensure_ascii=False, default=str))
    else:
        console = Console()
        wide = console.width >= WIDE
        shown = f"{len(rows)} object(s)" + (", more follow" if more else "")
        console.print(
            render(
                rows,
                f"{uri} — {shown}",
                COLUMNS if wide else NARROW,
                etag_chars=12 if wide else 8,
            )
        )
    if more:
        # On stderr: stdout stays the listing, JSON lines and all, for a pipe.
        last = shlex.quote(str(rows[-1]["object_key"]))
        typer.echo(f"more follow: the same command with --after {last} lists them", err=True)


def _page(
    settings: Settings, bucket: str, prefix: str, *, after: str | None, cap: int, deleted: bool
) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``cap`` items (0: all) after the key ``after``, and whether more follow.

    The same Query as ``CatalogReader.list``, begun past ``after`` with ExclusiveStartKey
    and read one item beyond the page, which is how it knows more follow.
    """
    request: dict[str, Any] = {
        "TableName": settings.table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :sk)",
        "ExpressionAttributeValues": {
            ":pk": {"S": schema.partition_key(bucket)},
            ":sk": {"S": schema.key_prefix(prefix)},
        },
    }
    if after is not None and not after.startswith(prefix):
        # DynamoDB refuses a start key outside the key condition: past the prefix nothing is
        # left, before it everything is.
        if after > prefix:
            return [], False
        after = None
    if after is not None:
        request["ExclusiveStartKey"] = {
            schema.PK: {"S": schema.partition_key(bucket)},
            schema.SK: {"S": schema.sort_key(after)},
        }
    if cap:
        request["PaginationConfig"] = {"PageSize": min(cap + 1, 1000)}
    rows: list[dict[str, Any]] = []
    for raw in paged_items(Clients(settings).dynamodb, "query", request):
        item = deserialize(raw)
        if item.get("deleted") and not deleted:
            continue
        if cap and len(rows) == cap:
            return rows, True
        rows.append(item)
    return rows, False


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
