"""Reading a records object whole (``bucketsync.sinks.records.formats``).

* gzip (by suffix and by Content-Encoding, several members, broken), ``read_object`` for
  every format, the body's own errors passed on, and ``skip`` resuming at the same indexes.
"""

from __future__ import annotations

import gzip
import io
from typing import Any

import pytest

from bucketsync.errors import MalformedFileError
from bucketsync.sinks.records.formats import FormatOptions, Kind, RowError, read_object, read_rows
from tests.unit.records_reading import read, values

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
