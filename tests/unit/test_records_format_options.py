"""Which format a records object is read as, and the options it is read with
(``bucketsync.sinks.records.formats``).

* ``detect`` and ``FormatOptions``: suffixes, Content-Encoding, allow-lists in messages.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from bucketsync.errors import ConfigurationError, MalformedFileError
from bucketsync.sinks.records.formats import FormatOptions, detect, read_rows

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
