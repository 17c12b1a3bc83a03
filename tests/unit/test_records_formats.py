"""Rows out of JSON, JSON Lines and CSV objects (``bucketsync.sinks.records.formats``).

* ``detect`` and ``FormatOptions``: suffixes, Content-Encoding, allow-lists in messages.
* Each format: types kept, line numbers, bad rows as values, broken files as MalformedFileError.
* gzip (by suffix and by Content-Encoding), BOM, CRLF, ``skip``.
* Resuming at a byte offset: every row of uncompressed UTF-8 JSON Lines and CSV tells where the
  next one starts, and a read from there gives the same rows (hypothesis); gzip, JSON arrays
  and other encodings tell nothing and refuse an offset.
* Streaming: ~40 MB generated on the fly is read with a small, bounded peak (tracemalloc).
* Properties (hypothesis): round trips of JSONL, JSON arrays and CSV tables; garbage in gives
  rows, row errors or MalformedFileError, never any other exception.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import re
import sys
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bucketsync.errors import ConfigurationError, MalformedFileError
from bucketsync.sinks.records.formats import (
    FormatOptions,
    Kind,
    Row,
    RowError,
    Start,
    detect,
    offsets_exact,
    read_header,
    read_object,
    read_rows,
)

FAST = settings(max_examples=120, deadline=None)


class Trickle:
    """A body that answers each read with at most ``step`` bytes, as a slow socket may."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, self._step) if size >= 0 else self._step)


def read(
    data: bytes, kind: Kind, *, gz: bool = False, skip: int = 0, step: int = 0, **options: Any
) -> list[Row | RowError]:
    """Every entry of ``data`` read as ``kind``; gzip-compressed first when ``gz``."""
    raw = gzip.compress(data) if gz else data
    body = Trickle(raw, step) if step else io.BytesIO(raw)
    return list(read_rows(body, kind=kind, gzip=gz, options=FormatOptions(**options), skip=skip))


def values(entries: list[Row | RowError]) -> list[dict[str, Any]]:
    assert all(isinstance(e, Row) for e in entries), entries
    return [e.value for e in entries if isinstance(e, Row)]


def until_broken(body: Any, kind: Kind, **options: Any) -> tuple[list[Row | RowError], str]:
    """The entries read before MalformedFileError, and its message."""
    seen: list[Row | RowError] = []
    with pytest.raises(MalformedFileError) as caught:
        for entry in read_rows(body, kind=kind, gzip=False, options=FormatOptions(**options)):
            seen.append(entry)
    return seen, str(caught.value)


# --- detect and options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "encoding", "expected"),
    [
        ("a/b.json", None, ("json", False)),
        ("a/b.JSONL", None, ("jsonl", False)),
        ("b.ndjson", "", ("jsonl", False)),
        ("dir.csv/b.csv", None, ("csv", False)),
        ("b.tsv", None, ("csv", False)),
        ("b.json.gz", None, ("json", True)),
        ("b.jsonl.GZ", None, ("jsonl", True)),
        ("b.csv", "gzip", ("csv", True)),
        ("b.csv", "x-gzip", ("csv", True)),
        ("b.ndjson", "GZIP, identity", ("jsonl", True)),
        ("b.json", "utf-8", ("json", False)),  # a common mistake: not a compression
    ],
)
def test_detect_reads_the_suffix_and_the_content_encoding(
    key: str, encoding: str | None, expected: tuple[str, bool]
) -> None:
    assert detect(key, encoding) == expected


def test_detect_lets_the_options_name_the_kind() -> None:
    assert detect("exports/today.txt", None, FormatOptions(kind="jsonl")) == ("jsonl", False)
    assert detect("exports/today.json.gz", None, FormatOptions(kind="csv")) == ("csv", True)


@pytest.mark.parametrize("key", ["a/b.txt", "a/b", "a/b.gz", "a.json/", "a/b.json.zip"])
def test_detect_refuses_an_unknown_suffix_naming_the_key_and_the_choices(key: str) -> None:
    with pytest.raises(MalformedFileError) as caught:
        detect(key, None)
    message = str(caught.value)
    assert repr(key) in message
    for suffix in (".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".gz"):
        assert suffix in message


def test_detect_refuses_compressions_it_cannot_inflate() -> None:
    with pytest.raises(MalformedFileError, match="Content-Encoding br is not supported"):
        detect("a.json", "br")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "xml"}, "kind 'xml' is not one of auto, json, jsonl, csv"),
        ({"delimiter": ";;"}, "delimiter must be one character"),
        ({"delimiter": "\n"}, "delimiter must be one character"),
        ({"quotechar": ""}, "quotechar must be one character"),
        ({"delimiter": '"'}, "must differ"),
        ({"column_types": {"a": "float"}}, "allowed are str, int, decimal, bool, json"),
        ({"encoding": "utf-42"}, "unknown encoding 'utf-42'"),
        ({"max_row_bytes": 0}, "max_row_bytes must be positive"),
    ],
)
def test_options_that_cannot_work_are_configuration_errors(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        FormatOptions(**options)


def test_options_keep_their_own_copy_of_column_types() -> None:
    types: dict[str, Any] = {"n": "int"}
    options = FormatOptions(column_types=types)
    types["n"] = "json"
    assert options.column_types == {"n": "int"}
    assert options == FormatOptions(column_types={"n": "int"})


def test_read_rows_refuses_an_unresolved_kind() -> None:
    with pytest.raises(ConfigurationError):
        read_rows(io.BytesIO(b""), kind="auto", gzip=False)  # type: ignore[arg-type]


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


# --- CSV -------------------------------------------------------------------------------------


def test_csv_rows_are_dicts_of_strings_with_physical_line_numbers() -> None:
    # GIVEN a BOM, CRLF endings, quoted fields holding delimiters, quotes and newlines
    data = (
        b"\xef\xbb\xbfid,name,note\r\n"
        b'1,"Smith, J","line one\r\nline two\nline three"\r\n'
        b'2,"say ""hi""",\r\n'
        b"\r\n"
        b"3,,last\r\n"
    )
    # WHEN it is read
    entries = read(data, "csv")
    # THEN each row starts on its physical line, the header being line 1
    assert entries == [
        Row(0, 2, {"id": "1", "name": "Smith, J", "note": "line one\r\nline two\nline three"}),
        Row(1, 5, {"id": "2", "name": 'say "hi"', "note": ""}),
        Row(2, 7, {"id": "3", "name": "", "note": "last"}),
    ]


def test_a_csv_row_with_the_wrong_column_count_is_a_row_error() -> None:
    data = b"a,b,c,d\n1,2,3,4\n1,2,3\n1,2,3,4,5\n5,6,7,8"
    assert read(data, "csv") == [
        Row(0, 2, {"a": "1", "b": "2", "c": "3", "d": "4"}),
        RowError(1, 3, "expected 4 columns, got 3"),
        RowError(2, 4, "expected 4 columns, got 5"),
        Row(3, 5, {"a": "5", "b": "6", "c": "7", "d": "8"}),
    ]


def test_tsv_and_other_delimiters_and_quotes() -> None:
    assert read(b'a\tb\n1,2\t"x\ty"\n', "csv", delimiter="\t") == [
        Row(0, 2, {"a": "1,2", "b": "x\ty"})
    ]
    assert read(b"a;b\n1;'2;3'\n", "csv", delimiter=";", quotechar="'") == [
        Row(0, 2, {"a": "1", "b": "2;3"})
    ]


def test_typed_csv_columns_are_converted_and_empty_typed_cells_left_out() -> None:
    # GIVEN typed columns, one row with every cell set and one with the typed cells empty
    data = b'n,price,ok,meta,name\n 42 ,-1.50e3,Yes,"{""a"": [1, 2.5]}",x\n,,, ,\n'
    types = {"n": "int", "price": "decimal", "ok": "bool", "meta": "json"}
    # WHEN it is read
    entries = read(data, "csv", column_types=types)
    # THEN the cells are typed; empty typed cells are no attribute, an empty string stays ""
    assert values(entries) == [
        {
            "n": 42,
            "price": Decimal("-1.50e3"),
            "ok": True,
            "meta": {"a": [1, Decimal("2.5")]},
            "name": "x",
        },
        {"name": ""},
    ]


@pytest.mark.parametrize(
    ("kind", "cell", "reason"),
    [
        ("int", "4.5", "column 'c': a value of 3 characters is not an integer"),
        ("int", "1_000", "column 'c': a value of 5 characters is not an integer"),
        ("decimal", "NaN", "column 'c': a value of 3 characters is not a decimal number"),
        ("decimal", "1,5", "column 'c': a value of 3 characters is not a decimal number"),
        ("bool", "maybe", "column 'c': a value of 5 characters is not true or false"),
        ("json", "{nope", "column 'c': not valid JSON: Expecting property name"),
        ("json", "NaN", "column 'c': not valid JSON: NaN is not a number DynamoDB can store"),
    ],
)
def test_a_csv_cell_that_does_not_convert_is_a_row_error_naming_column_not_value(
    kind: str, cell: str, reason: str
) -> None:
    data = f'id,c\n1,"{cell}"\n2,\n'.encode()
    entries = read(data, "csv", column_types={"c": kind})
    assert isinstance(entries[0], RowError) and entries[0].reason.startswith(reason)
    assert (entries[0].index, entries[0].line) == (0, 2)
    assert entries[1] == Row(1, 3, {"id": "2"})
    if kind != "json":  # the reason is logged: a file's contents stay out of it
        assert repr(cell) not in entries[0].reason


@pytest.mark.parametrize(
    ("data", "types", "message"),
    [
        (b"", {}, "empty file"),
        (b"\n\r\n\n", {}, "empty file"),
        (b"a,b,a\n1,2,3\n", {}, "duplicate column names in the header: 'a'"),
        (b"a,,c\n1,2,3\n", {}, "header column 2 has no name"),
        (b"a,b\n1,2\n", {"c": "int"}, "column_types names columns the header lacks: 'c'"),
        (b"a,\xff\n1,2\n", {}, "the header is not valid utf-8 text"),
    ],
)
def test_csv_without_a_usable_header_is_a_malformed_file(
    data: bytes, types: dict[str, str], message: str
) -> None:
    with pytest.raises(MalformedFileError, match=re.escape(message)):
        read(data, "csv", column_types=types)


def test_undecodable_bytes_in_a_csv_row_are_a_row_error() -> None:
    assert read(b"a,b\n1,\xff\n2,3\n", "csv") == [
        RowError(0, 2, "not valid utf-8 text"),
        Row(1, 3, {"a": "2", "b": "3"}),
    ]


def test_csv_cells_larger_than_csvs_default_limit_are_read() -> None:
    big = "x" * 300_000  # csv's own default field limit is 131,072
    assert values(read(f"a,b\n1,{big}\n".encode(), "csv")) == [{"a": "1", "b": big}]


def test_a_csv_line_longer_than_max_row_bytes_is_malformed() -> None:
    seen, message = until_broken(
        io.BytesIO(b"a\n1\n" + b"x" * 5000 + b"\n"), "csv", max_row_bytes=1000
    )
    assert seen == [Row(0, 2, {"a": "1"})]
    assert message == "line 3: line is longer than 1,000 characters"


def test_csv_in_latin_1() -> None:
    assert values(read("näme\nZoë\n".encode("latin-1"), "csv", encoding="latin-1")) == [
        {"näme": "Zoë"}
    ]


# --- gzip, read_object, skip -----------------------------------------------------------------

SAMPLES: dict[str, tuple[bytes, list[dict[str, Any]]]] = {
    "rows.json": (b'[{"a": 1}, {"a": 2}]', [{"a": 1}, {"a": 2}]),
    "rows.jsonl": (b'{"a": 1}\n{"a": 2}\n', [{"a": 1}, {"a": 2}]),
    "rows.csv": (b"a\n1\n2\n", [{"a": "1"}, {"a": "2"}]),
    "rows.tsv": (b"a\tb\n1\t2\n", [{"a": "1", "b": "2"}]),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("how", ["plain", "suffix", "content-encoding"])
def test_read_object_reads_every_format_plain_and_gzipped(name: str, how: str) -> None:
    data, expected = SAMPLES[name]
    key = f"in/{name}.gz" if how == "suffix" else f"in/{name}"
    body = io.BytesIO(data if how == "plain" else gzip.compress(data))
    encoding = "gzip" if how == "content-encoding" else None
    assert values(list(read_object(body, key=key, content_encoding=encoding))) == expected


def test_a_tsv_key_keeps_a_delimiter_the_options_chose() -> None:
    options = FormatOptions(delimiter=";")
    rows = read_object(io.BytesIO(b"a;b\n1;2\n"), key="x.tsv", options=options)
    assert values(list(rows)) == [{"a": "1", "b": "2"}]


def test_concatenated_gzip_members_are_read_in_order() -> None:
    data = gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"a": 2}\n')
    rows = read_rows(io.BytesIO(data), kind="jsonl", gzip=True)
    assert values(list(rows)) == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize(
    "data",
    [b"not gzip at all", gzip.compress(b'{"a": 1}\n' * 1000)[:-20], gzip.compress(b"{}") + b"junk"],
    ids=["not-gzip", "truncated", "trailing-junk"],
)
def test_broken_gzip_is_a_malformed_file(data: bytes) -> None:
    with pytest.raises(MalformedFileError, match="not valid gzip data"):
        list(read_rows(io.BytesIO(data), kind="jsonl", gzip=True))


@pytest.mark.parametrize("gz", [False, True])
def test_errors_of_the_body_itself_pass_unchanged(gz: bool) -> None:
    class Dropped:
        def read(self, size: int) -> bytes:
            raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        list(read_rows(Dropped(), kind="jsonl", gzip=gz))


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("json", b'[{"i": 0}, 1, {"i": 2}, {"i": 3}, {"i": 4}]'),
        ("jsonl", b'{"i": 0}\nbad\n\n{"i": 2}\n{"i": 3}\n{"i": 4}\n'),
        ("csv", b"i,j\n0,0\nbad\n2,2\n\n3,3\n4,4\n"),
    ],
)
@pytest.mark.parametrize("gz", [False, True])
def test_skip_resumes_at_the_same_indexes_and_lines(kind: Kind, data: bytes, gz: bool) -> None:
    # GIVEN a file read whole, with a bad row at index 1
    whole = read(data, kind, gz=gz)
    assert [e.index for e in whole] == [0, 1, 2, 3, 4] and isinstance(whole[1], RowError)
    # WHEN it is read again from a checkpoint
    for skip in range(7):
        # THEN exactly the entries from that index on come out, identical
        assert read(data, kind, gz=gz, skip=skip) == whole[skip:]


# --- streaming -------------------------------------------------------------------------------

FILLER = b"lorem ipsum " * 500  # big rows: few allocations, so tracemalloc stays quick


class Generated:
    """A body made on the fly, ``total`` bytes of rows; only the current chunk exists."""

    def __init__(
        self, head: bytes, row: Callable[[int], bytes], tail: bytes, total: int, gz: bool
    ) -> None:
        self._parts = self._make(head, row, tail, total)
        self.rows = 0
        self._buffer = b""
        self._deflate: Any = zlib.compressobj(1, wbits=31) if gz else None

    def _make(
        self, head: bytes, row: Callable[[int], bytes], tail: bytes, total: int
    ) -> Iterator[bytes]:
        yield head
        made = 0
        while made < total:
            chunk = row(self.rows)
            made, self.rows = made + len(chunk), self.rows + 1
            yield chunk
        yield tail

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            part = next(self._parts, None)
            if part is None:
                if self._deflate is not None:
                    self._buffer += self._deflate.flush()
                    self._deflate = None
                break
            self._buffer += self._deflate.compress(part) if self._deflate else part
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def json_row(index: int) -> bytes:
    return b'{"i": %d, "f": 1.5, "t": "%s"}' % (index, FILLER)


STREAMS: dict[str, tuple[bytes, Callable[[int], bytes], bytes, Kind, bool]] = {
    "json-array": (b"[", lambda i: json_row(i) + b",\n", b"{}]", "json", False),
    "jsonl": (b"", lambda i: json_row(i) + b"\n", b"", "jsonl", False),
    "csv": (b"i,f,t\n", lambda i: b'%d,1.5,"%s"\n' % (i, FILLER), b"", "csv", False),
    "jsonl.gz": (b"", lambda i: json_row(i) + b"\n", b"", "jsonl", True),
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_a_large_file_is_read_in_bounded_memory(name: str) -> None:
    # GIVEN a 40 MB body generated as it is read (tracemalloc sees Python's allocations; ijson's
    # C parser allocates little of its own)
    head, row, tail, kind, gz = STREAMS[name]
    size = 40 * 1024 * 1024
    body = Generated(head, row, tail, size, gz)
    # WHEN every row is read and dropped
    tracemalloc.start()
    try:
        count = sum(isinstance(entry, Row) for entry in read_rows(body, kind=kind, gzip=gz))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # THEN all of them came through, and the peak stayed a small fraction of the file
    assert count == body.rows + (kind == "json")  # the array ends with one more, {}
    assert peak < 8 * 1024 * 1024, f"peak {peak:,} bytes"  # a fifth of the file; ~0.5 MB seen


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


JSONISH = st.binary(max_size=300) | st.text(
    alphabet='[]{}",:0123456789.eE-+ \\tuflnrasx\n\r\xff', max_size=300
).map(str.encode)


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
