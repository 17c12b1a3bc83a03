"""Fuzzing the records formats (issue 15): what every fuzzing test of
``test_fuzz_records_*.py`` reads with, and holds each read to.

Goes past the properties of ``test_records_properties.py`` (round trips, small garbage):

* any options (every codec Python knows, text or not; any delimiter and quote; sizes up to
  2**64) with any bytes, keys and Content-Encodings;
* valid JSON, JSON Lines and CSV files mutated byte-wise (NaN, Infinity, huge exponents,
  5000-digit numbers, deep nesting, BOMs in the middle, stray CRs, invalid UTF-8), gzipped,
  gzip truncated or corrupted, read through bodies that answer a few bytes at a time.

``drain`` holds every read to rows, row errors, MalformedFileError or ConfigurationError,
nothing else. Every row read is also converted to a DynamoDB item (``values.convert``):
RowValueError or an item. Examples per test are sized for the unit run;
``FUZZ_EXAMPLES=20000`` sets every test of ``test_fuzz_records_*.py`` to that many for a long
run.
"""

from __future__ import annotations

import csv
import encodings.aliases
import gzip
import io
import json
import os
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bucketsync.errors import MalformedFileError, RowValueError
from bucketsync.sinks.records.formats import COLUMN_TYPES, Kind, Row, RowError
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


def prefixes(a: list[Any], b: list[Any]) -> bool:
    shorter, longer = sorted([a, b], key=len)
    return longer[: len(shorter)] == shorter
