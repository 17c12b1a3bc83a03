"""Rows of a JSON Lines file: one object per line, read a line at a time.

Blank lines are not rows; a bad line (not JSON, not an object, too long, undecodable) is a row
error and the next line goes on. Only "\\n" ends a line ("\\r\\n" is JSON space).
"""

from __future__ import annotations

from collections.abc import Iterator

from bucketsync.errors import MalformedFileError
from bucketsync.sinks.records._jsonguard import json_reason, loads
from bucketsync.sinks.records._streams import UNDECODED, Lines, Read, text
from bucketsync.sinks.records.json_rows import json_row
from bucketsync.sinks.records.options import FormatOptions
from bucketsync.sinks.records.parsed import From, Row, RowError, Start


def jsonl_rows(read: Read, options: FormatOptions, at: From) -> Iterator[Row | RowError]:
    """One object per line; blank lines are not rows. A bad line is a row error."""
    origin, exact, limit = at.start, at.exact, options.max_row_bytes
    # "\n" alone ends a line; "\r\n" is JSON space.
    decoded, bom = text(read, options.encoding, "\n", at_start=origin.offset == 0)
    offset = origin.offset + bom if exact else None
    lines = Lines(decoded, limit, fail=False, line=origin.line, offset=offset)
    index = origin.index
    try:
        for line in lines:
            if line and not line.strip(" \t\r\n"):
                continue
            number = lines.number
            after = Start(index + 1, number + 1, lines.offset) if exact else None
            if not line:
                yield RowError(index, number, f"line is longer than {limit:,} characters", after)
            elif UNDECODED.search(line):
                yield RowError(index, number, f"not valid {options.encoding} text", after)
            else:
                try:
                    yield json_row(index, number, loads(line), after)
                except (ValueError, RecursionError) as exc:
                    yield RowError(index, number, json_reason(exc), after)
            index += 1
    except UnicodeError as exc:  # what surrogateescape cannot absorb (UTF-16 without a BOM)
        raise MalformedFileError(f"not {options.encoding} text: {exc}", line=lines.number) from exc
