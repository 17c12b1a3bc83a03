"""Resuming a records read at a byte offset (``bucketsync.sinks.records.formats``).

* Every row of uncompressed UTF-8 JSON Lines and CSV tells where the next one starts, and a
  read from there gives the same rows (hypothesis); gzip, JSON arrays and other encodings
  tell nothing and refuse an offset.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bucketsync.errors import ConfigurationError, MalformedFileError
from bucketsync.sinks.records.formats import (
    FormatOptions,
    Kind,
    Row,
    RowError,
    Start,
    offsets_exact,
    read_header,
    read_rows,
)
from tests.unit.records_reading import FAST, JSONISH, Trickle, read

# --- resuming from a byte offset -------------------------------------------------------------

LIMIT = 60  # max_row_bytes in these tests: low enough that some generated lines exceed it


def outcome(entries: Iterator[Row | RowError]) -> tuple[list[tuple[Any, ...]], str | None]:
    """Every entry spelled out (``after`` too, which equality leaves out), and the message of
    the MalformedFileError that ended the read, if one did."""
    seen: list[tuple[Any, ...]] = []
    try:
        for e in entries:
            what = e.value if isinstance(e, Row) else e.reason
            seen.append((type(e).__name__, e.index, e.line, what, e.after))
    except MalformedFileError as exc:
        return seen, str(exc)
    return seen, None


def body(data: bytes, step: int) -> Any:
    return Trickle(data, step) if step else io.BytesIO(data)


def read_from(data: bytes, kind: Kind, at: Start, step: int = 0, **options: Any) -> Any:
    """The entries of ``data`` read by a resume at ``at``: the body from its offset on, and
    for CSV the header read from the bytes before it, as the loader does with Range GETs."""
    chosen = FormatOptions(**options)
    header = None
    if kind == "csv":
        header = read_header(io.BytesIO(data[: at.offset]), key="f.csv", options=chosen)
    rest = body(data[at.offset :], step)
    return read_rows(rest, kind=kind, gzip=False, options=chosen, start=at, header=header)


def assert_every_resume_matches(data: bytes, kind: Kind, step: int, **options: Any) -> None:
    # GIVEN the file read whole
    whole = read_rows(body(data, step), kind=kind, gzip=False, options=FormatOptions(**options))
    entries, broke = outcome(whole)
    offsets = [after.offset for *_, after in entries]
    assert offsets == sorted(set(offsets)) and all(0 < o <= len(data) for o in offsets)
    for k, (_, index, _, _, after) in enumerate(entries):
        assert after.index == index + 1
        # a record ends at a line end, or at the end of the file
        assert after.offset == len(data) or data[after.offset - 1 : after.offset] in (b"\r", b"\n")
        # WHEN it is read again from where the reader said row k ends
        # THEN exactly the entries after row k come out, the same, and the same break if any
        assert outcome(read_from(data, kind, after, step, **options)) == (entries[k + 1 :], broke)


def line_ends(draw: st.DrawFn, parts: list[str]) -> str:
    return "".join(part + draw(st.sampled_from(["\n", "\r\n"])) for part in parts)


JSONL_LINES = st.one_of(
    st.dictionaries(st.sampled_from(["a", "é", "名"]), st.text(max_size=6), max_size=2).map(
        lambda row: json.dumps(row, ensure_ascii=False)
    ),
    st.sampled_from(["", " ", "\t ", "{oops", "[1, 2]", '"é"', "{}", "x\ry", '{"a": "\udcff"}']),
    st.just('{"long": "' + "é" * LIMIT + '"}'),  # longer than LIMIT: skipped as a row error
)


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(JSONL_LINES, max_size=10))
    text = line_ends(draw, lines)
    if draw(st.booleans()):  # the last line without its newline
        text = text.rstrip("\r\n")
    bom = "\ufeff" if draw(st.booleans()) else ""
    return (bom + text).encode("utf-8", "surrogateescape")


CSV_CELLS = st.text(alphabet=st.sampled_from([*'ab ,"\r\né名😀', "\udcff"]), max_size=6)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(st.sampled_from(["a", "é", "名", "x y"]), min_size=1, unique=True))
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerow(header)
    for _ in range(draw(st.integers(0, 8))):
        shape = draw(st.sampled_from(["row", "row", "row", "short", "long", "blank"]))
        if shape == "blank":
            out.write(draw(st.sampled_from(["\n", "\r\n"])))
            continue
        width = len(header) + {"row": 0, "short": -1, "long": 1}[shape]
        cells = draw(st.lists(CSV_CELLS, min_size=max(width, 1), max_size=max(width, 1)))
        ending = draw(st.sampled_from(["\n", "\r\n"]))
        csv.writer(out, lineterminator=ending).writerow(cells)
    text = out.getvalue()
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    bom = "\ufeff" if draw(st.booleans()) else ""
    return (bom + text).encode("utf-8", "surrogateescape")


@FAST
@given(data=jsonl_files(), step=st.sampled_from([0, 1, 2, 5]))
@example(data=b'\xef\xbb\xbf{"a": 1}\r\n\n{"b": 2}', step=1)
def test_jsonl_resumed_at_any_rows_offset_reads_the_same_rows(data: bytes, step: int) -> None:
    assert_every_resume_matches(data, "jsonl", step, max_row_bytes=LIMIT)


@FAST
@given(data=csv_files(), step=st.sampled_from([0, 1, 2, 5]))
@example(data=b'\xef\xbb\xbfa,b\r\n"1\r\n\r\n",2\n\n3,\xff\r4,5', step=1)
def test_csv_resumed_at_any_rows_offset_reads_the_same_rows(data: bytes, step: int) -> None:
    assert_every_resume_matches(data, "csv", step, max_row_bytes=LIMIT)


@FAST
@given(data=JSONISH, kind=st.sampled_from(["jsonl", "csv"]))
def test_garbage_resumed_at_any_rows_offset_reads_the_same(data: bytes, kind: Kind) -> None:
    assert_every_resume_matches(data, kind, 0, max_row_bytes=LIMIT)


def test_a_row_tells_where_the_next_one_starts_counting_bom_and_multi_line_records() -> None:
    jsonl = read(b'\xef\xbb\xbf{"a": "\xc3\xa9"}\r\n\n{"b": 2}\n', "jsonl")
    assert [e.after for e in jsonl] == [Start(1, 2, 16), Start(2, 4, 26)]
    data = b'id,note\r\n1,"two\r\nlines"\r\n2,x\n'
    rows = read(data, "csv")
    assert [e.after for e in rows] == [Start(1, 4, 25), Start(2, 5, len(data))]
    resumed = list(read_from(data, "csv", Start(1, 4, 25)))
    assert resumed == [Row(1, 4, {"id": "2", "note": "x"})]


@pytest.mark.parametrize(
    ("data", "kind", "gz", "encoding"),
    [
        (b'{"a": 1}\n{"a": 2}\n', "jsonl", True, "utf-8"),
        (b"a\n1\n2\n", "csv", True, "utf-8"),
        (b'[{"a": 1}, {"a": 2}]', "json", False, "utf-8"),
        (b'{"a": "\xe9"}\n{"a": 2}\n', "jsonl", False, "latin-1"),
        (b"a\n\xe9\n2\n", "csv", False, "latin-1"),
    ],
)
def test_gzip_json_arrays_and_other_encodings_tell_no_offset_and_cannot_start_at_one(
    data: bytes, kind: Kind, gz: bool, encoding: str
) -> None:
    entries = read(data, kind, gz=gz, encoding=encoding)
    assert len(entries) == 2 and [e.after for e in entries] == [None, None]
    assert not offsets_exact(kind, gz, FormatOptions(encoding=encoding))
    with pytest.raises(ConfigurationError, match="byte offset"):
        list(
            read_rows(
                io.BytesIO(data[2:]),
                kind=kind,
                gzip=gz,
                options=FormatOptions(encoding=encoding),
                start=Start(1, 2, 2),
                header=["a"] if kind == "csv" else None,
            )
        )


def test_csv_read_from_an_offset_needs_its_header() -> None:
    assert offsets_exact("csv", False, FormatOptions(encoding="UTF8"))
    with pytest.raises(ConfigurationError, match="header"):
        read_rows(io.BytesIO(b"1\n"), kind="csv", gzip=False, start=Start(1, 3, 4))
    with pytest.raises(ConfigurationError, match="header"):
        read_rows(io.BytesIO(b"a\n1\n"), kind="csv", gzip=False, header=["a"])
    with pytest.raises(ConfigurationError, match="no header"):
        read_header(io.BytesIO(b"{}\n"), key="f.jsonl")


def test_read_header_takes_the_header_as_a_whole_read_does() -> None:
    assert read_header(io.BytesIO(b'\xef\xbb\xbf\n"a\nb",c\n1,2\n'), key="f.csv") == ["a\nb", "c"]
    assert read_header(io.BytesIO(b"a\tb\n1\t2\n"), key="f.tsv") == ["a", "b"]
    assert read_header(io.BytesIO(gzip.compress(b"a;b\n")), key="f.csv.gz") == ["a;b"]
    with pytest.raises(MalformedFileError, match="duplicate"):
        read_header(io.BytesIO(b"a,a\n"), key="f.csv")
