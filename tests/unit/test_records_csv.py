"""Rows out of CSV and TSV objects (``bucketsync.sinks.records.formats``).

* Physical line numbers, typed columns, bad rows as values, files without a usable header as
  MalformedFileError; BOM, CRLF, other delimiters, quotes and encodings.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest

from bucketsync.errors import MalformedFileError
from bucketsync.sinks.records.formats import Row, RowError
from tests.unit.records_reading import read, until_broken, values

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
