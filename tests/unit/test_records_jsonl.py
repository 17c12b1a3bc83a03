"""Rows out of JSON Lines objects (``bucketsync.sinks.records.formats``).

* Types kept, line numbers, bad lines as row errors, BOM, CRLF, other encodings.
"""

from __future__ import annotations

from decimal import Decimal

from bucketsync.sinks.records.formats import Row, RowError
from tests.unit.records_reading import read, values

# --- JSON Lines ------------------------------------------------------------------------------


def test_jsonl_rows_carry_their_line_and_blank_lines_are_not_rows() -> None:
    data = b'{"a": 1}\r\n\r\n   \n{"b": 1.5, "c": [true, null]}\n\n{"d": ""}'
    assert read(data, "jsonl") == [
        Row(0, 1, {"a": 1}),
        Row(1, 4, {"b": Decimal("1.5"), "c": [True, None]}),
        Row(2, 6, {"d": ""}),
    ]


def test_bad_jsonl_lines_are_row_errors_and_the_rest_still_lands() -> None:
    # GIVEN good lines around every kind of bad one
    data = b"\n".join(
        [
            b'{"ok": 1}',
            b'{"a": 1 "b": 2}',
            b"[1, 2]",
            b'{"a": NaN}',
            b'{"a": -Infinity}',
            b'{"a": "\xff\xfe"}',
            b'{"ok": 2}',
        ]
    )
    # WHEN it is read
    entries = read(data, "jsonl")
    # THEN each bad line is reported with its number and reason, and the good ones land
    assert entries == [
        Row(0, 1, {"ok": 1}),
        RowError(1, 2, "not valid JSON: Expecting ',' delimiter (col 9)"),
        RowError(2, 3, "not a JSON object: array"),
        RowError(3, 4, "not valid JSON: NaN is not a number DynamoDB can store"),
        RowError(4, 5, "not valid JSON: -Infinity is not a number DynamoDB can store"),
        RowError(5, 6, "not valid utf-8 text"),
        Row(6, 7, {"ok": 2}),
    ]


def test_a_jsonl_line_nested_too_deeply_is_a_row_error() -> None:
    entries = read(b"[" * 100_000 + b"\n" + b'{"a": 1}\n', "jsonl")
    assert entries == [
        RowError(0, 1, "not valid JSON: nested too deeply"),
        Row(1, 2, {"a": 1}),
    ]


def test_a_jsonl_line_longer_than_max_row_bytes_is_skipped_as_a_row_error() -> None:
    data = b'{"a": "' + b"x" * 5000 + b'"}\n{"b": 2}\n'
    assert read(data, "jsonl", max_row_bytes=1000) == [
        RowError(0, 1, "line is longer than 1,000 characters"),
        Row(1, 2, {"b": 2}),
    ]


def test_jsonl_in_latin_1() -> None:
    assert values(read('{"name": "Zoë"}\n'.encode("latin-1"), "jsonl", encoding="latin-1")) == [
        {"name": "Zoë"}
    ]


def test_jsonl_bom_is_stripped() -> None:
    assert read(b'\xef\xbb\xbf{"a": 1}\n', "jsonl") == [Row(0, 1, {"a": 1})]


def test_jsonl_keeps_lone_surrogate_escapes_for_values_to_judge() -> None:
    assert values(read(b'{"a": "\\ud800"}', "jsonl")) == [{"a": "\ud800"}]
