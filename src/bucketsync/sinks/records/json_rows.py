"""Rows of a JSON file: a top-level array (one row per element) or one object (one row).

Walked by ijson (``_jsonguard``), never held whole; ijson does not tell where an element ends,
so a JSON file has no byte offsets to resume at and is read again from the start.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bucketsync.sinks.records._jsonguard import json_type, json_values
from bucketsync.sinks.records._streams import Read
from bucketsync.sinks.records.options import FormatOptions
from bucketsync.sinks.records.parsed import From, Row, RowError, Start

# Deeper than any row DynamoDB can store (32 levels), shallow enough for ijson's memory.
MAX_JSON_DEPTH = 512


def json_rows(read: Read, options: FormatOptions, at: From) -> Iterator[Row | RowError]:
    """A top-level array (one row per element) or one object (one row)."""
    elements = json_values(read, options.encoding, options.max_row_bytes, MAX_JSON_DEPTH)
    for index, (line, value) in enumerate(elements):
        yield json_row(index, line, value)


def json_row(
    index: int, line: int | None, value: Any, after: Start | None = None
) -> Row | RowError:
    """A row if ``value`` is a JSON object; else a row error naming what it is instead."""
    if isinstance(value, dict):
        return Row(index, line, value, after)
    return RowError(index, line, f"not a JSON object: {json_type(value)}", after)
