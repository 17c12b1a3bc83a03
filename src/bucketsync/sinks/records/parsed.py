"""What the readers yield (rows and row errors, numbered in file order) and where a read starts.

Every row position, good or bad, gets an ``index`` from 0 in file order, so a checkpoint stays
valid when the file is read again. Where byte offsets are exact, each one also tells where a
read resuming after it starts (``after``, a :class:`Start`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Start:
    """Where a read begins: row ``index``, on physical line ``line``, at byte ``offset``."""

    index: int
    line: int
    offset: int


BEGINNING = Start(0, 1, 0)


@dataclass(frozen=True, slots=True)
class Row:
    """A parsed row. ``line`` is 1-based where the row starts; None for JSON array elements.

    ``after`` is where a read resuming after this row starts, where offsets are exact (else
    None). It is not part of equality: the same row read from elsewhere is the same row.
    """

    index: int
    line: int | None
    value: dict[str, Any]
    after: Start | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class RowError:
    """A row position that holds no usable row, and why; ``after`` as for :class:`Row`."""

    index: int
    line: int | None
    reason: str
    after: Start | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class From:
    """Where a reader starts, whether it counts bytes, and the CSV header it is given."""

    start: Start
    exact: bool
    header: Sequence[str] | None
