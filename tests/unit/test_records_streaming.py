"""Streaming records objects (``bucketsync.sinks.records.formats``).

* ~40 MB generated on the fly is read with a small, bounded peak (tracemalloc).
"""

from __future__ import annotations

import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bucketsync.sinks.records.formats import Kind, Row, read_rows

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
