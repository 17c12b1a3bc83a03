"""Fuzzing the records formats (issue 15): a bad row never takes the good ones down
(``records_fuzzing.py`` has the strategies and ``drain``).

* oracles: one bad row among good ones is a row error at its index and every other row
  stands, in JSON Lines, CSV and JSON arrays; whatever breaks a JSON array, the rows read
  before it stand.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bucketsync.sinks.records.formats import FormatOptions, Row, RowError, read_rows
from tests.unit.records_fuzzing import (
    CHUNKINGS,
    OBJECTS,
    TOKENS,
    Chunked,
    drain,
    dumps,
    fuzz,
    typed,
)

# --- a bad row never takes the good ones down ------------------------------------------------

BAD_JSONL = [
    "{oops",
    "NaN",
    '{"a": NaN}',
    '{"a": Infinity}',
    '{"a": -Infinity}',
    '{"a": 1e999999999999999999999}',
    '{"a": -2.5E-9999999999999999999999}',
    '{"a": ' + "9" * 5000 + "}",
    "[" * 100_000 + "]" * 100_000,
    '{"a": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"a": 1} {"b": 2}',
    '{"a": 1}x',
    "[1, 2]",
    '"text"',
    "null",
    "\udcff{}",  # an undecodable byte
    '{"a": "\\ud800"}',  # a lone surrogate escape: a row, which values refuses
    '{"a": 1,}',
    "\x00",
    '{"a": "' + "x" * 80 + '"}',  # longer than LIMIT
    '{"a": 1}\r{"b": 2}',
]
LIMIT = 64
SHORT_LINES = OBJECTS.map(dumps).filter(lambda line: len(line) < LIMIT)


@fuzz(100)
@given(
    rows=st.lists(SHORT_LINES, min_size=1, max_size=6),
    bad=st.sampled_from(BAD_JSONL),
    at=st.integers(0, 6),
    newline=st.sampled_from(["\n", "\r\n"]),
    gz=st.booleans(),
)
def test_a_bad_jsonl_line_is_one_row_error_and_every_other_line_stands(
    rows: list[str], bad: str, at: int, newline: str, gz: bool
) -> None:
    # GIVEN good JSON Lines with one bad line among them
    at = min(at, len(rows))
    lines = [*rows[:at], bad, *rows[at:]]
    data = "".join(line + newline for line in lines).encode("utf-8", "surrogateescape")
    body = io.BytesIO(gzip.compress(data) if gz else data)
    # WHEN the file is read
    read = read_rows(body, kind="jsonl", gzip=gz, options=FormatOptions(max_row_bytes=LIMIT))
    entries, broke = drain(read)
    # THEN nothing breaks: every good line is its row, on its line; the bad one is one entry
    assert broke is None, broke
    assert [e.line for e in entries] == list(range(1, len(lines) + 1))
    for number, (entry, line) in enumerate(zip(entries, lines, strict=True)):
        if number != at:
            assert isinstance(entry, Row)
            assert typed(entry.value) == typed(json.loads(line, parse_float=Decimal))


GOOD_CELLS = {  # an empty or blank typed cell is no value: the row leaves it out
    "int": ["1", "0", "-3", " 12 ", "", " "],
    "decimal": ["1", "0.5", "-3e2", ".5", ""],
    "bool": ["true", "false", "1", "no", ""],
    "json": ["1", '"s"', '{"a": [1, 2.5]}', "null", ""],
}
BAD_CELLS = {
    "int": ["x", "1.5", "1" * 5000, "--1", "\u00bd"],
    "decimal": ["x", "1e999999999999999999999", "-1.5E-9999999999999999999999", "1e", "NaN"],
    "bool": ["maybe", "2", "truee"],
    "json": ["{", "NaN", "[" * 100_000, '{"a": 1e999999999999999999999}', "1 2", "9" * 5000],
}


@fuzz(150)
@given(
    data=st.data(),
    column=st.sampled_from(sorted(BAD_CELLS)),
    at=st.integers(0, 5),
    shape=st.sampled_from(["cell", "cell", "short", "long", "undecodable"]),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_a_bad_csv_record_is_one_row_error_and_every_other_record_stands(
    data: st.DataObject, column: str, at: int, shape: str, newline: str
) -> None:
    # GIVEN a CSV file with a typed column, and one bad record among good ones
    good = data.draw(st.lists(st.sampled_from(GOOD_CELLS[column]), min_size=1, max_size=5))
    records = [[cell, str(n)] for n, cell in enumerate(good)]
    at = min(at, len(records))
    bad = {
        "cell": [data.draw(st.sampled_from(BAD_CELLS[column]), label="cell"), "x"],
        "short": ["1"],
        "long": ["1", "2", "3"],
        "undecodable": [good[0], "\udcff"],
    }[shape]
    records.insert(at, bad)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(["v", "n"])
    writer.writerows(records)
    raw = out.getvalue().encode("utf-8", "surrogateescape")
    chosen = FormatOptions(column_types={"v": column})  # type: ignore[dict-item]
    # WHEN it is read
    entries, broke = drain(read_rows(io.BytesIO(raw), kind="csv", gzip=False, options=chosen))
    # THEN nothing breaks: one entry per record, on its line; only the bad one is a row error
    assert broke is None, broke
    assert [e.line for e in entries] == list(range(2, len(records) + 2))
    assert [type(e) for e in entries] == [RowError if n == at else Row for n in range(len(records))]


NOT_OBJECTS = ["1", "-0.5", '"x"', "[]", "[{}]", "null", "true", "1e400", "9" * 4000]


@fuzz(100)
@given(
    rows=st.lists(OBJECTS, min_size=1, max_size=5),
    bad=st.sampled_from(NOT_OBJECTS),
    at=st.integers(0, 5),
    sizes=CHUNKINGS,
)
def test_a_json_array_element_that_is_no_object_is_one_row_error_and_the_rest_stand(
    rows: list[dict[str, Any]], bad: str, at: int, sizes: list[int]
) -> None:
    # GIVEN a JSON array of objects with one element that is not an object
    at = min(at, len(rows))
    elements = [dumps(row) for row in rows]
    elements.insert(at, bad)
    data = ("[" + ",\n".join(elements) + "]").encode()
    # WHEN it is read, a few bytes at a time
    entries, broke = drain(read_rows(Chunked(data, sizes), kind="json", gzip=False))
    # THEN that element is a row error at its index and every object is its row
    assert broke is None, broke
    assert [type(e) for e in entries] == [
        RowError if n == at else Row for n in range(len(elements))
    ]
    expected = [json.loads(e, parse_float=Decimal) for e in elements]
    assert [typed(e.value) for e in entries if isinstance(e, Row)] == [
        typed(v) for n, v in enumerate(expected) if n != at
    ]


@fuzz(100)
@given(rows=st.lists(OBJECTS, max_size=5), at=st.integers(0, 5), bad=st.sampled_from(TOKENS))
def test_whatever_breaks_a_json_array_the_rows_read_before_it_stand(
    rows: list[dict[str, Any]], at: int, bad: bytes
) -> None:
    # GIVEN a JSON array with a token inserted between two elements
    at = min(at, len(rows))
    elements = [dumps(row).encode() for row in rows]
    data = b"[" + b",".join([*elements[:at], bad, *elements[at:]]) + b"]"
    # WHEN it is read
    entries, broke = drain(read_rows(io.BytesIO(data), kind="json", gzip=False))
    # THEN the rows before the token are the objects as written; if the file did not break,
    # the token is one entry and the rows after it are there too
    expected = [typed(json.loads(e, parse_float=Decimal)) for e in elements]
    before = [typed(e.value) if isinstance(e, Row) else None for e in entries[:at]]
    assert before == expected[: len(before)]
    if broke is None and bad.strip(b" \t\r\n"):
        assert len(entries) == len(rows) + 1
        after = [typed(e.value) if isinstance(e, Row) else None for e in entries[at + 1 :]]
        assert after == expected[at:]


@fuzz(100)
@given(
    sizes=st.lists(st.integers(0, 120), min_size=1, max_size=6),
    limit=st.integers(1, 200),
    chunks=CHUNKINGS,
)
def test_json_rows_near_max_row_bytes_are_rows_or_a_malformed_file(
    sizes: list[int], limit: int, chunks: list[int]
) -> None:
    # GIVEN a JSON array of objects of about ``sizes`` bytes, and a max_row_bytes near them
    elements = [{"k": "x" * size} for size in sizes]
    data = json.dumps(elements).encode()
    chosen = FormatOptions(max_row_bytes=limit)
    # WHEN it is read, a few bytes at a time
    entries, broke = drain(
        read_rows(Chunked(data, chunks), kind="json", options=chosen, gzip=False)
    )
    # THEN the rows that came out are the first elements, and a break says the row was too large
    assert [e.value for e in entries if isinstance(e, Row)] == elements[: len(entries)]
    assert broke is None or "larger than" in broke.reason, broke
    assert broke is not None or len(entries) == len(elements)
