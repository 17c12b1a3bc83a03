"""Fuzzing the records formats (issue 15): rows, row errors, MalformedFileError or
ConfigurationError, nothing else, and a bad row never takes the good ones down.

Goes past the properties of ``test_records_formats.py`` (round trips, small garbage):

* any options (every codec Python knows, text or not; any delimiter and quote; sizes up to
  2**64) with any bytes, keys and Content-Encodings;
* valid JSON, JSON Lines and CSV files mutated byte-wise (NaN, Infinity, huge exponents,
  5000-digit numbers, deep nesting, BOMs in the middle, stray CRs, invalid UTF-8), gzipped,
  gzip truncated or corrupted, read through bodies that answer a few bytes at a time;
* oracles: one bad row among good ones is a row error at its index and every other row stands;
  any chunking of the body reads the same; lines near ``max_row_bytes`` are rows or row errors
  by their length, on their physical line, with the offset after them exact; a CSV written with
  any delimiter and quote reads back; a truncated gzip gives the rows before the cut.

Every row read is also converted to a DynamoDB item (``values.convert``): RowValueError or
an item. Examples per test are sized for the unit run; ``FUZZ_EXAMPLES=20000`` sets every test
here to that many for a long run.
"""

from __future__ import annotations

import csv
import encodings.aliases
import gzip
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bucketsync.errors import ConfigurationError, MalformedFileError, RowValueError
from bucketsync.sinks.records._jsonguard import JsonGuard
from bucketsync.sinks.records.formats import (
    COLUMN_TYPES,
    FormatOptions,
    Kind,
    Row,
    RowError,
    Start,
    read_object,
    read_rows,
)
from bucketsync.sinks.records.values import convert


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=int(os.environ.get("FUZZ_EXAMPLES") or examples),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


KINDS: list[Kind] = ["json", "jsonl", "csv"]


class Chunked:
    """A body that answers reads with the given sizes in turn (never more than asked)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data, self._sizes, self._at, self._turn = data, sizes or [1 << 30], 0, 0

    def read(self, size: int = -1) -> bytes:
        step = self._sizes[self._turn % len(self._sizes)]
        self._turn += 1
        size = step if size < 0 else min(size, step)
        chunk = self._data[self._at : self._at + size]
        self._at += len(chunk)
        return chunk


Entry = Row | RowError
Drained = tuple[list[Entry], MalformedFileError | None]


def drain(entries: Iterator[Entry], *, skip: int = 0, first_index: int = 0) -> Drained:
    """Every entry until the end or a MalformedFileError; any other exception fails the test.

    Each entry is checked: consecutive indexes, lines that do not go back, rows whose values
    convert to DynamoDB items or are refused as RowValueError.
    """
    seen: list[Entry] = []
    try:
        for entry in entries:
            assert type(entry) in (Row, RowError), entry
            seen.append(entry)
    except MalformedFileError as exc:
        assert exc.reason and str(exc)
        assert exc.line is None or (type(exc.line) is int and exc.line >= 0)
        broke: MalformedFileError | None = exc
    else:
        broke = None
    start = max(skip, first_index)
    assert [e.index for e in seen] == list(range(start, start + len(seen)))
    lines = [e.line for e in seen if e.line is not None]
    assert all(type(line) is int and line >= 1 for line in lines)
    assert lines == sorted(lines)
    for entry in seen:
        if isinstance(entry, RowError):
            assert type(entry.reason) is str and entry.reason
        else:
            assert type(entry.value) is dict
            assert all(type(name) is str for name in entry.value)
            try:
                convert(entry.value)
            except RowValueError as exc:
                assert str(exc)
    return seen, broke


def spelled(entries: list[Entry]) -> list[tuple[Any, ...]]:
    """Entries spelled out, values with their types (so 1, 1.0 and True cannot pass as one)."""
    return [
        (type(e).__name__, e.index, e.line, typed(e.value) if isinstance(e, Row) else e.reason)
        for e in entries
    ]


def typed(value: Any) -> Any:
    if isinstance(value, dict):
        return ("map", {k: typed(v) for k, v in value.items()})
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, str(value))


# --- strategies ------------------------------------------------------------------------------

ENCODINGS = sorted(
    {
        *encodings.aliases.aliases.values(),
        "utf-8",
        "utf-8-sig",
        "UTF8",
        "utf-16",
        "utf-16-le",
        "utf-32",
        "latin-1",
        "cp1252",
        "idna",
        "punycode",
        "unicode_escape",
        "raw_unicode_escape",
        "utf-7",
        "hex",
        "rot13",
        "mbcs",
        "no-such-codec",
        "",
    }
)
# Encodings that behave unlike UTF-8: BOMs of their own, no surrogateescape, not text at all.
ODD_ENCODINGS = ["utf-16", "utf-16-be", "utf-32", "utf-7", "idna", "punycode", "unicode_escape"]
ODD_ENCODINGS += ["shift_jis", "cp1252", "latin-1", "utf-8-sig", "hex", "rot13", "zlib"]
SIZES = st.sampled_from([-1, 0, 1, 2, 7, 60, 4096, 16 * 1024 * 1024, 2**31, sys.maxsize])
HUGE_SIZES = st.sampled_from([sys.maxsize + 1, 2**64, 10**20])
CHARS = st.sampled_from([",", ";", "\t", "|", " ", '"', "'", "a", "\x00", "\x85", "é", "\r"])
NAMES = st.sampled_from(["a", "b", "c", "é", "x y", ""])


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` nine times in ten: options that cannot work stop a read before it starts."""
    return st.integers(0, 9).flatmap(lambda n: bad if n == 0 else good)


@st.composite
def options(draw: st.DrawFn) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    if draw(st.booleans()):
        chosen["encoding"] = draw(st.sampled_from(ENCODINGS) | st.sampled_from(ODD_ENCODINGS))
    if draw(st.booleans()):
        chosen["delimiter"] = draw(mostly(CHARS, st.text(max_size=2)))
    if draw(st.booleans()):
        chosen["quotechar"] = draw(mostly(st.sampled_from(['"', "'", "|"]), CHARS))
    if draw(st.booleans()):
        chosen["max_row_bytes"] = draw(mostly(SIZES, HUGE_SIZES))
    if draw(st.booleans()):
        types = mostly(st.sampled_from(COLUMN_TYPES), st.sampled_from(["float", ""]))
        chosen["column_types"] = draw(st.dictionaries(NAMES, types, max_size=3))
    chosen["kind"] = draw(mostly(st.sampled_from(["auto", *KINDS]), st.just("xml")))
    return chosen


TOKENS = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e999999999999999999999",
    b"-1.5E-999999999999999999999",
    b"1e400",
    b"1E+126",
    b"0.0000000000000000000000000000000000000001",
    b"123456789012345678901234567890123456789",
    b"9" * 4301,
    b"-" + b"1" * 5000,
    b"1." + b"0" * 5000 + b"1",
    b"[" * 600,
    b"{" + b'"a":{' * 40 + b"}" * 41,
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b'"\\ud800"',
    b"\\",
    b'"',
    b"'",
    b",",
    b";",
    b"\t",
    b"\r",
    b"\n",
    b"\r\n",
    b"\x00",
    b"}",
    b"]",
    b"true",
    b"null",
    b'"' + b"x" * 70 + b'"',
]
NUMBERS = st.one_of(
    st.integers(min_value=-(10**45), max_value=10**45),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("1E+125"), Decimal("9.99E+125"), Decimal("1E-130"), Decimal("-0")]),
)
VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
OBJECTS = st.dictionaries(st.text(min_size=1, max_size=4), VALUES, max_size=4)


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


@st.composite
def valid_files(draw: st.DrawFn, kind: Kind) -> bytes:
    """A well-formed file of ``kind``: a JSON array or object, JSON Lines, a CSV table."""
    rows = draw(st.lists(OBJECTS, max_size=6))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    if kind == "json":
        if len(rows) == 1 and draw(st.booleans()):
            text = dumps(rows[0])
        else:
            text = json.dumps(rows, default=str, indent=draw(st.sampled_from([None, 1])))
    elif kind == "jsonl":
        text = "".join(dumps(row) + newline for row in rows)
    else:
        header = draw(
            st.lists(st.sampled_from(["a", "b", "é", "x y", "1"]), min_size=1, unique=True)
        )
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator=newline)
        writer.writerow(header)
        for _ in range(draw(st.integers(0, 5))):
            writer.writerow(
                draw(st.lists(st.text(max_size=5), min_size=len(header), max_size=len(header)))
            )
        text = out.getvalue()
    bom = "\ufeff" if draw(st.booleans()) else ""
    return (bom + text).encode("utf-8", "surrogatepass")


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(out)))
        what = draw(st.sampled_from(["insert", "insert", "flip", "delete", "truncate", "repeat"]))
        if what == "insert":
            out[at:at] = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=3))
        elif what == "flip" and at < len(out):
            out[at] = draw(st.integers(0, 255))
        elif what == "delete":
            del out[at : at + draw(st.integers(1, 8))]
        elif what == "truncate":
            del out[at:]
        elif what == "repeat":
            out[at:at] = out[at : at + draw(st.integers(1, 40))] * draw(st.integers(1, 3))
    return bytes(out)


@st.composite
def files(draw: st.DrawFn) -> tuple[Kind, bytes]:
    kind = draw(st.sampled_from(KINDS))
    return kind, draw(mutated(draw(valid_files(kind))))


CHUNKINGS = st.lists(st.sampled_from([1, 2, 3, 5, 7, 64, 4096, 1 << 20]), min_size=1, max_size=4)


@st.composite
def gzipped(draw: st.DrawFn, data: bytes, *, damage: bool = True) -> bytes:
    """``data`` gzipped (as one member or several), then perhaps cut short or corrupted."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=2)))
    parts = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    packed = b"".join(
        gzip.compress(p, compresslevel=draw(st.sampled_from([0, 1, 9]))) for p in parts
    )
    if not damage:
        return packed
    damage_done = draw(st.sampled_from(["none", "none", "truncate", "flip", "trail"]))
    if damage_done == "truncate":
        return packed[: draw(st.integers(0, len(packed)))]
    if damage_done == "flip" and packed:
        at = draw(st.integers(0, len(packed) - 1))
        return packed[:at] + bytes([packed[at] ^ draw(st.integers(1, 255))]) + packed[at + 1 :]
    if damage_done == "trail":
        return packed + draw(st.sampled_from([b"\x00" * 8, b"garbage", b"\x1f\x8b", b"\x1f"]))
    return packed


# --- any input, any options ------------------------------------------------------------------

KEYS = st.sampled_from(["f.json", "f.jsonl.gz", "f.csv", "f.tsv", "f.ndjson", "f", "f.JSON.GZ"])
CODINGS = st.sampled_from([None, "", "gzip", "identity", "br", "gzip, zstd", "GZIP", "x-gzip"])


@fuzz(300)
@given(
    st.data(),
    st.binary(max_size=200) | files().map(lambda kind_data: kind_data[1]),
    options(),
    st.booleans(),
    CHUNKINGS,
)
def test_any_bytes_read_with_any_options_give_only_the_typed_outcomes(
    data: st.DataObject, raw: bytes, chosen: dict[str, Any], gz: bool, sizes: list[int]
) -> None:
    # GIVEN any bytes (garbage or a mutated file), gzipped (perhaps damaged) or not, any options
    body = data.draw(gzipped(raw), label="gzipped") if gz else raw
    key, coding = data.draw(KEYS, label="key"), data.draw(CODINGS, label="coding")
    # WHEN options are made and the object is read with them
    try:
        made = FormatOptions(**chosen)
        entries = read_object(Chunked(body, sizes), key=key, content_encoding=coding, options=made)
    except (ConfigurationError, MalformedFileError):
        return  # bad options, an unknown format, a compression not supported: typed, up front
    # THEN rows, row errors and perhaps MalformedFileError come out, nothing else
    drain(entries)


@fuzz(100)
@given(
    st.data(),
    st.sampled_from(["jsonl", "csv"]),
    st.integers(-3, 12),
    st.integers(-1, 12),
    st.integers(-3, 200),
)
def test_any_start_and_skip_give_only_the_typed_outcomes(
    data: st.DataObject, kind: Kind, index: int, line: int, offset: int
) -> None:
    # GIVEN a file, and any place a read might be asked to start at, with or without a header
    raw = data.draw(mutated(data.draw(valid_files(kind))), label="file")
    header = data.draw(st.none() | st.lists(NAMES, max_size=3), label="header")
    skip = data.draw(st.integers(-2, 8), label="skip")
    # WHEN the body from that offset on is read from there
    try:
        entries = read_rows(
            io.BytesIO(raw[max(offset, 0) :]),
            kind=kind,
            gzip=False,
            start=Start(index, line, offset),
            header=header,
            skip=skip,
        )
    except ConfigurationError:
        return  # not a place a read can start at, or a header where none is wanted
    # THEN rows numbered on from the start, row errors, or MalformedFileError
    drain(entries, skip=skip, first_index=index)


# --- the same outcome whatever the chunking --------------------------------------------------


@fuzz(200)
@given(files(), st.booleans(), CHUNKINGS)
def test_any_chunking_of_the_body_reads_the_same(
    kind_data: tuple[Kind, bytes], gz: bool, sizes: list[int]
) -> None:
    # GIVEN a file, read once at a go and once through a body that answers a few bytes a time
    kind, raw = kind_data
    body = gzip.compress(raw) if gz else raw
    whole, whole_broke = drain(read_rows(io.BytesIO(body), kind=kind, gzip=gz))
    chunked, chunked_broke = drain(read_rows(Chunked(body, sizes), kind=kind, gzip=gz))
    # THEN both break, or neither does and the same entries come out (``after`` too)
    assert (whole_broke is None) == (chunked_broke is None), (whole_broke, chunked_broke)
    if whole_broke is None:
        assert spelled(chunked) == spelled(whole)
        assert [e.after for e in chunked] == [e.after for e in whole]
    else:
        # the rows yielded before a break stand: each read gave a prefix of the other's
        assert prefixes(spelled(whole), spelled(chunked))


def prefixes(a: list[Any], b: list[Any]) -> bool:
    shorter, longer = sorted([a, b], key=len)
    return longer[: len(shorter)] == shorter


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


# --- lines near max_row_bytes ----------------------------------------------------------------


@st.composite
def near_limit_jsonl(draw: st.DrawFn) -> tuple[int, list[str], list[str]]:
    """A limit, lines of JSON objects padded to lengths around it, and the end of each line
    (the last one perhaps none)."""
    limit = draw(st.integers(4, 24))
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        length = draw(st.integers(max(limit - 3, 2), limit + 3))
        pad = draw(st.sampled_from([" ", "\r", "\u00e9", "\t"]))
        body = "{" + pad * (length - 2) + "}"
        lines.append(draw(st.sampled_from([body, body, body, "", " \r"])))
    ends = [draw(st.sampled_from(["\n", "\r\n"])) for _ in lines]
    if draw(st.booleans()):
        ends[-1] = ""
    return limit, lines, ends


@fuzz(300)
@given(near_limit_jsonl())
def test_jsonl_lines_near_max_row_bytes_are_judged_by_length_on_their_own_line(
    built: tuple[int, list[str], list[str]],
) -> None:
    # GIVEN JSON Lines whose lengths straddle max_row_bytes, ending in LF or CRLF
    limit, lines, ends = built
    raw = "".join(line + end for line, end in zip(lines, ends, strict=True)).encode()
    # WHEN it is read with that limit
    chosen = FormatOptions(max_row_bytes=limit)
    entries, broke = drain(read_rows(io.BytesIO(raw), kind="jsonl", gzip=False, options=chosen))
    # THEN each line that is not blank is one entry on its physical line: a row error if it
    # is ``limit`` characters or longer (its line end not counted), else parsed; and each
    # entry tells the byte offset where the next line starts
    assert broke is None, broke
    expected, offset = [], 0
    for number, (line, end) in enumerate(zip(lines, ends, strict=True), start=1):
        offset += len((line + end).encode())
        if line.strip(" \t\r\n"):
            expected.append((number, len(line) >= limit, offset))
    assert [(e.line, too_long(e), e.after and e.after.offset) for e in entries] == expected


def too_long(entry: Entry) -> bool:
    return isinstance(entry, RowError) and "longer than" in entry.reason


@st.composite
def near_limit_csv(draw: st.DrawFn) -> tuple[int, list[str], list[str]]:
    limit = draw(st.integers(4, 16))
    lines, ends = ["a,b"], [draw(st.sampled_from(["\n", "\r\n", "\r"]))]
    for _ in range(draw(st.integers(1, 6))):
        length = draw(st.integers(max(limit - 3, 3), limit + 2))
        cell = draw(st.sampled_from(["x", "\u00e9"])) * (length - 2)
        line = draw(st.sampled_from([f"{cell},1", f"{cell},1", ""]))
        end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        # a blank line's LF after a CR would make one CRLF of the two
        lines.append(line)
        ends.append("\r\n" if not line and end == "\n" else end)
    return limit, lines, ends


@fuzz(300)
@given(near_limit_csv())
def test_csv_lines_near_max_row_bytes_are_judged_by_length_on_their_own_line(
    built: tuple[int, list[str], list[str]],
) -> None:
    # GIVEN a CSV file whose lines straddle max_row_bytes, ending in LF, CRLF or CR
    limit, lines, ends = built
    raw = "".join(line + end for line, end in zip(lines, ends, strict=True)).encode()
    # WHEN it is read with that limit
    chosen = FormatOptions(max_row_bytes=limit)
    entries, broke = drain(read_rows(io.BytesIO(raw), kind="csv", gzip=False, options=chosen))
    # THEN a line of ``limit`` characters or more (its line end not counted) breaks the file at
    # its number; before it, each record is a row on its physical line, with the offset after it
    first_long = next((n for n, line in enumerate(lines, 1) if len(line) >= limit), None)
    offsets = [0]
    for line, end in zip(lines, ends, strict=True):
        offsets.append(offsets[-1] + len((line + end).encode()))
    expected = [
        (number, offsets[number])
        for number, line in enumerate(lines, start=1)
        if number > 1 and line and (first_long is None or number < first_long)
    ]
    assert [(e.line, e.after and e.after.offset) for e in entries] == expected
    if first_long is None:
        assert broke is None, broke
    else:
        assert broke is not None and broke.line == first_long, broke


# --- odd delimiters and quotes ---------------------------------------------------------------

DIALECT_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\ufeff")
HEADER_NAMES = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=4).filter(
    lambda name: not name.startswith("\ufeff")
)


@fuzz(200)
@given(
    delimiter=DIALECT_CHARS,
    quotechar=DIALECT_CHARS,
    header=st.lists(HEADER_NAMES, min_size=1, max_size=3, unique=True),
    data=st.data(),
)
def test_a_csv_written_with_any_delimiter_and_quote_reads_back(
    delimiter: str, quotechar: str, header: list[str], data: st.DataObject
) -> None:
    # GIVEN a table written by csv.writer with any delimiter and quote character
    try:
        chosen = FormatOptions(delimiter=delimiter, quotechar=quotechar)
    except ConfigurationError:
        assert delimiter == quotechar
        return
    width = len(header)
    cells = st.text(st.characters(exclude_categories=["Cs"]), max_size=5)
    rows = data.draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=4))
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, quotechar=quotechar, quoting=csv.QUOTE_ALL)
    writer.writerows([header, *rows])
    # WHEN it is read with the same dialect
    raw = out.getvalue().encode()
    entries, broke = drain(read_rows(io.BytesIO(raw), kind="csv", gzip=False, options=chosen))
    # THEN the same rows come back
    assert broke is None, broke
    assert [e.value if isinstance(e, Row) else e for e in entries] == [
        dict(zip(header, row, strict=True)) for row in rows
    ]


# --- gzip ------------------------------------------------------------------------------------


@fuzz(150)
@given(files(), st.data())
def test_a_gzip_cut_short_gives_a_prefix_of_the_rows(
    kind_data: tuple[Kind, bytes], data: st.DataObject
) -> None:
    # GIVEN a file gzipped as one member or several, cut short anywhere
    kind, raw = kind_data
    packed = data.draw(gzipped(raw, damage=False), label="packed")
    cut = packed[: data.draw(st.integers(0, len(packed)), label="cut")]
    whole, _ = drain(read_rows(io.BytesIO(raw), kind=kind, gzip=False))
    # WHEN it is read
    entries, broke = drain(read_rows(io.BytesIO(cut), kind=kind, gzip=True))
    # THEN what came out is what the whole file gives, as far as it went (a cut between
    # members ends the file cleanly, perhaps inside its last row); nothing else comes out
    seen = spelled(entries if broke is not None else entries[:-1])
    assert prefixes(seen, spelled(whole))


# --- bugs the fuzzing found, kept as examples ------------------------------------------------

HUGE_EXPONENT = b"1e999999999999999999999"  # past any exponent Decimal can hold


def test_a_number_past_decimals_range_in_a_jsonl_line_is_a_row_error() -> None:
    # GIVEN a line holding a number whose exponent Decimal cannot hold, between good lines
    data = b'{"a": 1}\n{"a": ' + HUGE_EXPONENT + b'}\n{"a": 2}\n'
    # WHEN it is read (it raised decimal.InvalidOperation, taking every row after it down)
    entries, broke = drain(read_rows(io.BytesIO(data), kind="jsonl", gzip=False))
    # THEN that line is a row error and the good ones stand
    assert broke is None
    assert [type(e) for e in entries] == [Row, RowError, Row]
    assert isinstance(entries[1], RowError) and "not valid JSON" in entries[1].reason


@pytest.mark.parametrize("column", ["decimal", "json"])
def test_a_number_past_decimals_range_in_a_typed_csv_cell_is_a_row_error(column: str) -> None:
    data = b"v\n1\n" + HUGE_EXPONENT + b"\n2\n"
    chosen = FormatOptions(column_types={"v": column})  # type: ignore[dict-item]
    entries, broke = drain(read_rows(io.BytesIO(data), kind="csv", gzip=False, options=chosen))
    assert broke is None
    assert [type(e) for e in entries] == [Row, RowError, Row]


def test_a_number_past_decimals_range_in_a_json_array_is_a_malformed_file() -> None:
    # GIVEN an array whose second element is such a number (ijson cannot go on past it)
    data = b'[{"a": 1}, {"b": ' + HUGE_EXPONENT + b"}]"
    # WHEN it is read
    entries, broke = drain(read_rows(io.BytesIO(data), kind="json", gzip=False))
    # THEN a malformed file, not decimal.InvalidOperation; what was read before it stands
    assert broke is not None and "out of range" in broke.reason
    assert all(isinstance(e, Row) and e.value == {"a": 1} for e in entries)


@pytest.mark.parametrize("encoding", ["hex", "rot13", "base64", "zlib", "uu", "bz2", "quopri"])
def test_a_codec_that_is_not_a_text_encoding_is_a_configuration_error(encoding: str) -> None:
    # (it was accepted, and every read then raised LookupError)
    with pytest.raises(ConfigurationError, match="text encoding"):
        FormatOptions(encoding=encoding)


@pytest.mark.parametrize("kind", KINDS)
def test_a_max_row_bytes_past_what_python_can_index_is_a_configuration_error(kind: Kind) -> None:
    # (it was accepted, and a read then raised OverflowError from readline or csv)
    with pytest.raises(ConfigurationError, match="max_row_bytes"):
        FormatOptions(max_row_bytes=sys.maxsize + 1)
    chosen = FormatOptions(max_row_bytes=sys.maxsize)
    data = {"json": b'[{"a": 1}]', "jsonl": b'{"a": 1}\n', "csv": b"a\n1\n"}[kind]
    entries, broke = drain(read_rows(io.BytesIO(data), kind=kind, gzip=False, options=chosen))
    assert broke is None
    assert [e.value for e in entries if isinstance(e, Row)] == [{"a": 1 if kind != "csv" else "1"}]


@pytest.mark.parametrize("step", [1, 2])
@pytest.mark.parametrize("data", [b'\xef\xbb\xbf[{"a": 1}]', b'\xef\xbb\xbf {"a": 1}'])
def test_a_json_bom_is_dropped_whatever_the_body_answers_at_a_time(data: bytes, step: int) -> None:
    # GIVEN a JSON file with a BOM, from a body answering a byte or two at a time
    # WHEN it is read (the BOM was only recognised if the first read held all of it)
    entries, broke = drain(read_rows(Chunked(data, [step]), kind="json", gzip=False))
    # THEN the same row as read at a go
    assert broke is None, broke
    assert [e.value for e in entries if isinstance(e, Row)] == [{"a": 1}]


def test_a_crlf_line_one_short_of_the_limit_keeps_the_next_rows_line_and_offset() -> None:
    # GIVEN CRLF lines of 8 characters and a limit of 9: readline(9) stops between CR and LF
    data = b'{"a": 1}\r\n{"b": 2}\r\n{"c": 3}\r\n'
    # WHEN it is read (the LF was read as a line of its own: lines 1, 3, 5)
    chosen = FormatOptions(max_row_bytes=9)
    entries, broke = drain(read_rows(io.BytesIO(data), kind="jsonl", gzip=False, options=chosen))
    # THEN rows on lines 1, 2, 3, each telling the offset after its LF
    assert broke is None
    assert [(e.line, e.after) for e in entries] == [
        (1, Start(1, 2, 10)),
        (2, Start(2, 3, 20)),
        (3, Start(3, 4, 30)),
    ]


def test_a_bare_cr_at_the_limit_does_not_split_a_jsonl_line() -> None:
    # GIVEN a JSON Lines line of 19 characters, its 10th a CR (JSON space), and a limit of 10
    data = b'{"k":  1}\r{"a": 2}\n{"c": 3}\n'
    # WHEN it is read (it came out as two rows, {"k": 1} and {"a": 2}, numbering the rest off)
    chosen = FormatOptions(max_row_bytes=10)
    entries, broke = drain(read_rows(io.BytesIO(data), kind="jsonl", gzip=False, options=chosen))
    # THEN the long line is one row error and the next line its row, on line 2
    assert broke is None
    assert [(type(e), e.index, e.line) for e in entries] == [(RowError, 0, 1), (Row, 1, 2)]
    assert isinstance(entries[0], RowError) and "longer than" in entries[0].reason


def test_a_long_jsonl_line_with_a_cr_where_a_chunk_ends_is_skipped_whole() -> None:
    # GIVEN a line longer than the limit (7) whose 14th character is a CR
    data = b'{"k": "xxxxxx\r{"a": 2}\n{}\n'
    chosen = FormatOptions(max_row_bytes=7)
    # WHEN it is read (skipping stopped at the CR, and the rest came out as another line)
    entries, broke = drain(read_rows(io.BytesIO(data), kind="jsonl", gzip=False, options=chosen))
    # THEN one row error for the long line, and the next line's row on line 2
    assert broke is None
    assert [(type(e), e.line) for e in entries] == [(RowError, 1), (Row, 2)]


def test_a_csv_crlf_line_at_the_limit_keeps_line_numbers_and_offsets() -> None:
    data = b"a,b\r\n1,2\r\n3,4\r\n"
    chosen = FormatOptions(max_row_bytes=4)
    entries, broke = drain(read_rows(io.BytesIO(data), kind="csv", gzip=False, options=chosen))
    assert broke is None
    assert [(e.line, e.after) for e in entries] == [(2, Start(1, 3, 10)), (3, Start(2, 4, 15))]


def test_a_csv_line_past_the_limit_after_a_crlf_split_is_reported_on_its_own_line() -> None:
    chosen = FormatOptions(max_row_bytes=4)
    with pytest.raises(MalformedFileError) as caught:
        list(
            read_rows(
                io.BytesIO(b"a,b\r\n1,2\r\nxxxx,5\r\n"), kind="csv", gzip=False, options=chosen
            )
        )
    assert caught.value.line == 3


def test_the_json_guard_checks_long_digit_runs_in_linear_time() -> None:
    # GIVEN 2 MB of numbers 4300 digits long, just within Python's limit (valid JSON)
    data = b"[" + b",".join([b"7" * 4300] * 500) + b"]"
    guard = JsonGuard(io.BytesIO(data).read, limit=len(data), max_depth=512)
    # WHEN the guard looks at all of it (its regex rescanned each run from every digit)
    began = time.perf_counter()
    while guard(64 * 1024):
        pass
    # THEN it took a small fraction of a second, not seconds
    assert time.perf_counter() - began < 1.0
