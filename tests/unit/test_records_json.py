"""Rows out of JSON objects (``bucketsync.sinks.records.formats``): an array of objects, or
one object.

* Types kept, bad rows as values, broken files as MalformedFileError; a BOM; the guards
  against deep nesting, huge integers and rows past ``max_row_bytes``.
"""

from __future__ import annotations

import io
import json
import re
import sys
from decimal import Decimal

import pytest

from bucketsync.errors import MalformedFileError
from bucketsync.sinks.records.formats import Row, RowError
from tests.unit.records_reading import Trickle, read, until_broken, values

# --- JSON ------------------------------------------------------------------------------------


def test_json_array_rows_keep_every_type() -> None:
    # GIVEN an array with every JSON type, a big integer and a float
    data = json.dumps(
        [
            {"id": 1, "price": 1.1, "big": 10**40, "tiny": 1e-7, "on": True, "none": None},
            {"nested": {"list": [1, "a", {"deep": []}], "map": {}}, "empty": "", "ü→": "✓"},
        ]
    ).encode()
    # WHEN it is read
    entries = read(data, "json")
    # THEN numbers are exact (ints stay int, the rest Decimal) and nothing is dropped
    assert [(e.index, e.line) for e in entries] == [(0, None), (1, None)]
    first, second = values(entries)
    assert first == {
        "id": 1,
        "price": Decimal("1.1"),
        "big": 10**40,
        "tiny": Decimal("1e-7"),
        "on": True,
        "none": None,
    }
    assert type(first["id"]) is int and type(first["price"]) is Decimal
    assert second == {"nested": {"list": [1, "a", {"deep": []}], "map": {}}, "empty": "", "ü→": "✓"}


def test_a_single_json_object_is_one_row_with_its_line() -> None:
    entries = read(b'\xef\xbb\xbf\n\r\n  {"a": [1, 2], "b": {"c": "d"}}\n', "json")
    assert entries == [Row(0, 3, {"a": [1, 2], "b": {"c": "d"}})]


@pytest.mark.parametrize("data", [b"[]", b" [ ] \n", b"\xef\xbb\xbf[]"])
def test_an_empty_json_array_is_zero_rows_not_an_error(data: bytes) -> None:
    assert read(data, "json") == []


def test_json_elements_that_are_not_objects_are_row_errors_that_keep_their_index() -> None:
    entries = read(b'[{"a": 1}, [1], "s", 2, 2.5, true, null, {"b": 2}]', "json")
    assert entries == [
        Row(0, None, {"a": 1}),
        RowError(1, None, "not a JSON object: array"),
        RowError(2, None, "not a JSON object: string"),
        RowError(3, None, "not a JSON object: number"),
        RowError(4, None, "not a JSON object: number"),
        RowError(5, None, "not a JSON object: boolean"),
        RowError(6, None, "not a JSON object: null"),
        Row(7, None, {"b": 2}),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b" \n\t ", "empty file"),
        (b'"just a string"', "not a JSON array or object: found '\"'"),
        (b"12", "not a JSON array or object: found '1'"),
        (b"<xml/>", "not a JSON array or object"),
        (b"[{]", "invalid JSON before the first row"),
        (b'[{"a": NaN}]', "invalid JSON before the first row: lexical error"),
        (b'[{"a": Infinity}]', "invalid JSON before the first row"),
        (b'[{"a": "\xff"}]', "invalid JSON before the first row"),
        (b'[{"a": 1}', "invalid JSON after 1 row"),
    ],
)
def test_json_that_cannot_be_parsed_is_a_malformed_file(data: bytes, message: str) -> None:
    with pytest.raises(MalformedFileError, match=re.escape(message)):
        read(data, "json")


def test_a_json_syntax_error_after_some_rows_leaves_those_rows_standing() -> None:
    # GIVEN an array that breaks after two good elements
    body = io.BytesIO(b'[{"a": 1}, {"a": 2}, {"a": oops}]')
    # WHEN it is read
    seen, message = until_broken(body, "json")
    # THEN the two rows came out first, and the error says where it broke
    assert seen == [Row(0, None, {"a": 1}), Row(1, None, {"a": 2})]
    assert message.startswith("invalid JSON after 2 rows: lexical error")


def test_several_json_values_in_a_json_file_point_at_json_lines() -> None:
    seen, message = until_broken(io.BytesIO(b'{"a": 1}\n{"a": 2}\n'), "json")
    assert seen == [Row(0, 1, {"a": 1})]
    assert "trailing garbage" in message and "JSON Lines" in message


def test_json_nested_past_the_guard_is_malformed_before_ijson_drowns_in_it() -> None:
    # yajl2_c keeps a prefix per level: 200,000 levels would take ~100 GB.
    with pytest.raises(MalformedFileError, match="nested deeper than 512 levels"):
        read(b"[" * 200_000, "json")
    assert values(read(b'[{"a": ' + b"[" * 100 + b"]" * 100 + b"}]", "json"))[0]["a"]


def test_an_integer_past_pythons_digit_limit_is_malformed_not_a_crash() -> None:
    # ijson 3.6's yajl2_c crashes the interpreter on such an integer; the guard stops it first.
    digits = sys.get_int_max_str_digits()
    with pytest.raises(MalformedFileError, match="a number has over"):
        read(b'[{"n": ' + b"7" * (digits + 1) + b"}]", "json", step=1000)
    ok = read(b'[{"n": ' + b"7" * digits + b', "s": "' + b"7" * (digits + 5) + b'"}]', "json")
    assert values(ok)[0]["n"] == int("7" * digits)


@pytest.mark.parametrize("step", [1, 2, 3, 5, 64])
def test_the_json_guard_follows_strings_across_any_chunking(step: int) -> None:
    # GIVEN strings full of brackets, escaped quotes and backslashes, read a few bytes at a time
    rows = [
        {"s": "[[[[{{{{" * 100, "t": 'say "[" \\', "u": '\\\\\\"]]]]'},
        {"k[": "}}}}", "e": "\\", "q": '"', "n": 12345678901234567890},
    ]
    data = json.dumps(rows).encode()
    # WHEN it is read with a depth limit far below the bracket count inside the strings
    entries = read(data, "json", step=step)
    # THEN the strings did not count as nesting, and everything came through
    assert values(entries) == rows


def test_a_json_row_larger_than_max_row_bytes_is_malformed() -> None:
    data = json.dumps([{"a": "x" * 100}, {"a": "y" * 5000}]).encode()
    seen, message = until_broken(Trickle(data, 100), "json", max_row_bytes=1000)
    assert seen == [Row(0, None, {"a": "x" * 100})]
    assert "larger than 1,000 bytes" in message


def test_json_in_another_encoding_is_read_after_reencoding() -> None:
    data = json.dumps([{"name": "Zoë ✓"}], ensure_ascii=False).encode("utf-16")
    assert values(read(data, "json", encoding="utf-16")) == [{"name": "Zoë ✓"}]
