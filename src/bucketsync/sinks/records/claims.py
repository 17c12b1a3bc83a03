"""What the manifest answers: a claim (may this version load, and from where) and, for a
reader, the current generation. The store that makes them is ``records.manifest``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class ClaimKind(enum.Enum):
    START = "start"  # a new generation begins at row 0
    RESUME = "resume"  # this version's own load continues from its checkpoint
    STALE = "stale"  # this version (or a newer one) was already handled
    BUSY = "busy"  # another load holds the lease: try again later
    CONFIRM = "confirm"  # a sequencer over an observed version: look the object up first


@dataclass(frozen=True, slots=True)
class Claim:
    kind: ClaimKind
    gen: int = 0
    next_index: int = 0
    next_offset: int = 0  # 0: resume by re-reading from the start, skipping next_index rows
    next_line: int = 0
    written: int = 0
    bad: int = 0
    previous_gen: int | None = None  # the current generation when the claim was made


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a reader needs: the current generation and how it loaded."""

    rev: str | None
    status: str | None
    gen: int | None
    rows: int
    bad: int
    errors: list[dict[str, Any]]
    raw: dict[str, Any]
