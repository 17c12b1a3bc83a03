"""Fuzzing the records formats (issue 15): the bugs the fuzzing found, kept as examples
(``records_fuzzing.py`` has ``drain``, the oracle every read is held to).
"""

from __future__ import annotations

import io
import sys
import time

import pytest

from bucketsync.errors import ConfigurationError, MalformedFileError
from bucketsync.sinks.records._jsonguard import JsonGuard
from bucketsync.sinks.records.formats import FormatOptions, Kind, Row, RowError, Start, read_rows
from tests.unit.records_fuzzing import KINDS, Chunked, drain

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
