"""What the records formats' tests (``test_records_*.py``) read with: a body that answers a
few bytes at a time, ``read`` of a whole body as one format, the values of the rows read, the
rows read before a file breaks, and JSON-ish garbage for the properties."""

from __future__ import annotations

import gzip
import io
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from bucketsync.errors import MalformedFileError
from bucketsync.sinks.records.formats import FormatOptions, Kind, Row, RowError, read_rows

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


JSONISH = st.binary(max_size=300) | st.text(
    alphabet='[]{}",:0123456789.eE-+ \\tuflnrasx\n\r\xff', max_size=300
).map(str.encode)
