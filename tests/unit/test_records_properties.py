"""Properties of the records formats (``bucketsync.sinks.records.formats``), with hypothesis.

* Round trips of JSONL, JSON arrays and CSV tables; garbage in gives rows, row errors or
  MalformedFileError, never any other exception.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from decimal import Decimal
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from bucketsync.errors import MalformedFileError
from bucketsync.sinks.records.formats import Kind, Row, RowError, read_rows
from tests.unit.records_reading import FAST, JSONISH, read, values

# --- properties ------------------------------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
OBJECTS = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4)


def as_parsed(value: Any) -> Any:
    """What reading gives back for what json.dumps wrote: floats as the digits written."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: as_parsed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_parsed(v) for v in value]
    return value


def typed(value: Any) -> Any:
    """``value`` with its types spelled out, so 1 == 1.0 == True cannot pass for equal."""
    if isinstance(value, dict):
        return ("map", {k: typed(v) for k, v in value.items()})
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, value)


@FAST
@given(
    rows=st.lists(OBJECTS, max_size=6),
    ascii_only=st.booleans(),
    indent=st.sampled_from([None, 2]),
    step=st.integers(3, 64),
)
def test_jsonl_and_json_arrays_round_trip(
    rows: list[dict[str, Any]], ascii_only: bool, indent: int | None, step: int
) -> None:
    # GIVEN objects written by json.dumps, as JSON Lines and as an array, read a few bytes a time
    expected = [typed(as_parsed(r)) for r in rows]
    lines = "".join(json.dumps(r, ensure_ascii=ascii_only) + "\n" for r in rows).encode()
    array = json.dumps(rows, indent=indent, ensure_ascii=ascii_only).encode()
    # WHEN they are read back
    from_lines, from_array = read(lines, "jsonl", step=step), read(array, "json", step=step)
    # THEN the same values come out, floats as the Decimal of their repr, indexes 0..n-1
    assert [typed(v) for v in values(from_lines)] == expected
    assert [typed(v) for v in values(from_array)] == expected
    assert [(e.index, e.line) for e in from_lines] == [(i, i + 1) for i in range(len(rows))]
    assert [e.index for e in from_array] == list(range(len(rows)))


CELLS = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]) | st.sampled_from(',"\r\n\t'), max_size=12
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    header = draw(st.lists(CELLS.filter(bool), min_size=1, max_size=5, unique=True))
    width = len(header)
    return header, draw(st.lists(st.lists(CELLS, min_size=width, max_size=width), max_size=6))


@FAST
@given(table=tables(), delimiter=st.sampled_from([",", "\t", ";"]))
@example(table=(["a"], [[""], ["x"]]), delimiter=",")  # a lone empty cell is written as ""
def test_csv_round_trips_with_line_numbers(
    table: tuple[list[str], list[list[str]]], delimiter: str
) -> None:
    # GIVEN a table written by csv.writer: cells with delimiters, quotes, newlines of any kind
    header, rows = table
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter)
    starts, line = [], 1
    for record in [header, *rows]:
        before = out.tell()
        writer.writerow(record)
        starts.append(line)
        line += len(re.findall(r"\r\n|\r|\n", out.getvalue()[before:]))
    # WHEN it is read back
    entries = read(out.getvalue().encode(), "csv", delimiter=delimiter)
    # THEN the same dicts come out, each on the physical line where its record starts
    assert values(entries) == [dict(zip(header, r, strict=True)) for r in rows]
    assert [(e.index, e.line) for e in entries] == [(i, starts[i + 1]) for i in range(len(rows))]


@FAST
@given(
    data=JSONISH,
    kind=st.sampled_from(["json", "jsonl", "csv"]),
    gz=st.booleans(),
    step=st.integers(1, 64),
)
def test_garbage_gives_rows_row_errors_or_a_malformed_file_and_nothing_else(
    data: bytes, kind: Kind, gz: bool, step: int
) -> None:
    try:
        for entry in read(data, kind, gz=gz, step=step):
            assert isinstance(entry, Row | RowError)
    except MalformedFileError:
        pass


@FAST
@given(data=st.binary(max_size=200), kind=st.sampled_from(["json", "jsonl", "csv"]))
def test_undecompressable_garbage_is_a_malformed_file(data: bytes, kind: Kind) -> None:
    with contextlib.suppress(MalformedFileError):
        list(read_rows(io.BytesIO(data), kind=kind, gzip=True))
