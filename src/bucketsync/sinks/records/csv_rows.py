"""Rows of a CSV (or TSV) file: a header record, then one row per record, read a line at a time.

Cells are text unless ``FormatOptions.column_types`` names a column's type; a cell that does
not convert, or a record with the wrong number of cells, is a row error. A header that cannot
be used (empty, unnamed or duplicate columns, undecodable) makes the file malformed.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from decimal import Decimal, DecimalException
from typing import Any

from bucketsync.errors import MalformedFileError
from bucketsync.sinks.records._jsonguard import json_reason, loads
from bucketsync.sinks.records._streams import UNDECODED, Lines, Read, text
from bucketsync.sinks.records.options import FormatOptions
from bucketsync.sinks.records.parsed import BEGINNING, From, Row, RowError, Start

_Typed = tuple[int, str, str]  # column number, name, type: the columns not plain text
_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _cell(kind: str, cell: str) -> Any:
    text = cell.strip()
    if kind == "int" and _INT.fullmatch(text):
        return int(text)
    if kind == "decimal" and _DECIMAL.fullmatch(text):
        try:
            return Decimal(text)
        except DecimalException:  # an exponent past what Decimal holds (about 10**18)
            raise ValueError(f"a value of {len(cell)} characters is out of range") from None
    if kind == "bool" and text.lower() in _BOOLS:
        return _BOOLS[text.lower()]
    if kind == "json":
        try:
            return loads(cell)
        except (ValueError, RecursionError) as exc:
            raise ValueError(json_reason(exc)) from exc
    # The cell's shape, not its text: row errors are logged, and a file's contents are not
    # ours to put in a log (the line and column say where to look).
    expected = {"int": "an integer", "decimal": "a decimal number", "bool": "true or false"}
    raise ValueError(f"a value of {len(cell)} characters is not {expected.get(kind, kind)}")


def _csv_reader(
    read: Read, options: FormatOptions, at: Start, *, exact: bool = False
) -> tuple[Lines, Any]:
    """The physical lines (which tell the position after each record) and a reader over them."""
    # csv's field limit is process-wide; raising it (never lowering) keeps long cells readable.
    if csv.field_size_limit() < options.max_row_bytes:
        csv.field_size_limit(options.max_row_bytes)
    # newline="": csv itself splits "\r\n", "\r" and "\n", and the text stays byte for byte.
    decoded, bom = text(read, options.encoding, "", at_start=at.offset == 0)
    offset = at.offset + bom if exact else None
    lines = Lines(
        decoded, options.max_row_bytes, fail=True, cr_ends=True, line=at.line, offset=offset
    )
    return lines, csv.reader(lines, delimiter=options.delimiter, quotechar=options.quotechar)


def _csv_header(reader: Iterator[list[str]], lines: Lines, options: FormatOptions) -> list[str]:
    header = next((record for record in reader if record), None)
    if header is None:
        raise MalformedFileError("empty file: a CSV file starts with a header")
    _check_header(header, lines.number, options)
    return header


def csv_rows(read: Read, options: FormatOptions, at: From) -> Iterator[Row | RowError]:
    """A header record, then one row per record; blank lines are not rows.

    ``csv.reader`` pulls a line only when its record needs one, so once a record is parsed
    ``lines`` stands right after its last line, however many lines its quoted cells spanned.
    """
    origin, exact = at.start, at.exact
    lines, reader = _csv_reader(read, options, origin, exact=exact)
    try:
        if at.header is None:
            header = _csv_header(reader, lines, options)
        else:
            header = list(at.header)
            _check_header(header, None, options)
        typed: list[_Typed] = [
            (column, name, kind)
            for column, name in enumerate(header)
            if (kind := options.column_types.get(name, "str")) != "str"
        ]
        index, start = origin.index, lines.number + 1
        for record in reader:
            line, start = start, lines.number + 1
            if record:
                after = Start(index + 1, start, lines.offset) if exact else None
                yield _csv_row(
                    index, line, header, typed, record, encoding=options.encoding, after=after
                )
                index += 1
    except (csv.Error, UnicodeError) as exc:
        raise MalformedFileError(f"not CSV: {exc}", line=lines.number) from exc


def _check_header(header: list[str], line: int | None, options: FormatOptions) -> None:
    problem = ""
    if UNDECODED.search("".join(header)):
        problem = f"the header is not valid {options.encoding} text"
    elif "" in header:
        problem = f"header column {header.index('') + 1} has no name"
    elif duplicates := sorted({name for name in header if header.count(name) > 1}):
        problem = f"duplicate column names in the header: {', '.join(map(repr, duplicates))}"
    elif missing := sorted(set(options.column_types) - set(header)):
        problem = f"column_types names columns the header lacks: {', '.join(map(repr, missing))}"
    if problem:
        raise MalformedFileError(problem, line=line)


def _csv_row(
    index: int,
    line: int,
    header: list[str],
    typed: list[_Typed],
    record: list[str],
    *,
    encoding: str,
    after: Start | None,
) -> Row | RowError:
    if len(record) != len(header):
        return RowError(index, line, f"expected {len(header)} columns, got {len(record)}", after)
    if UNDECODED.search("".join(record)):
        return RowError(index, line, f"not valid {encoding} text", after)
    value = dict(zip(header, record, strict=True))
    for column, name, kind in typed:
        cell = record[column]
        if not cell.strip():  # an empty typed cell is no value: the attribute is left out
            del value[name]
            continue
        try:
            value[name] = _cell(kind, cell)
        except ValueError as exc:
            return RowError(index, line, f"column {name!r}: {exc}", after)
    return Row(index, line, value, after)


def read_csv_header(read: Read, options: FormatOptions) -> list[str]:
    """The column names at the start of a CSV file, checked as a whole read checks them."""
    lines, reader = _csv_reader(read, options, BEGINNING)
    try:
        return _csv_header(reader, lines, options)
    except (csv.Error, UnicodeError) as exc:
        raise MalformedFileError(f"not CSV: {exc}", line=lines.number) from exc
