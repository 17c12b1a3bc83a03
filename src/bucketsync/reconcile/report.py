"""What a reconcile found and did: drift per class and per sink, the first keys of each, errors.

Three drift classes, as rclone's march has three callbacks:

    missing   in the bucket, not in the sink (or only as a tombstone)
    stale     in both, but the sink holds another version
    phantom   in the sink, not in the bucket

A key the sink wrote after the listing saw it is ``newer``: an event is ahead of the listing;
it is not drift, and no repair is tried. What became of each repair: ``repaired``; ``raced``
(the sink held something newer when the repair landed: an event won, as it must);
``skipped`` and ``rejected`` (the sink's own answers: a file over the size limit, a data file
that does not parse); ``failed``; ``not_deleted`` (a delete held back: an error in the run, or
``--max-delete``).

Exit codes: 0 in sync (or repaired); 1 drift found in a dry run (or found at all, with
``strict``); 2 an error: a listing or read error, a failed repair, a delete held back.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from bucketsync.engine.update import Outcome
from bucketsync.errors import RefusingToDeleteError

CLASSES = ("missing", "stale", "phantom")
FIRST_KEYS = 10
MAX_ERRORS = 100


@dataclass
class SinkDrift:
    equal: int = 0
    newer: int = 0
    missing: int = 0
    stale: int = 0
    phantom: int = 0
    repaired: int = 0
    raced: int = 0
    skipped: int = 0
    rejected: int = 0
    failed: int = 0
    not_deleted: int = 0
    first: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in CLASSES})

    @property
    def drift(self) -> int:
        return self.missing + self.stale + self.phantom


@dataclass
class Report:
    bucket: str
    prefix: str
    source: str
    dry_run: bool
    listed: int = 0
    compared: int = 0
    seconds: float = 0.0
    sinks: dict[str, SinkDrift] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    deletes_refused: str | None = None  # why no delete was made, if so
    interrupted: bool = False
    resumed_from: str | None = None
    position: str | None = None  # where a resumed run would continue (None: all done)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()  # not a field: asdict() never sees it

    # -- counting, from any thread ----------------------------------------------------------

    def sink(self, name: str) -> SinkDrift:
        with self._lock:
            return self.sinks.setdefault(name, SinkDrift())

    def found(self, sink: str, kind: str, key: str) -> None:
        drift = self.sink(sink)
        with self._lock:
            setattr(drift, kind, getattr(drift, kind) + 1)
            if kind in drift.first and len(drift.first[kind]) < FIRST_KEYS:
                drift.first[kind].append(key)

    def settled(self, sink: str, key: str, result: Outcome | BaseException) -> bool:
        """Count a repair's result; True if the key needs nothing more."""
        drift = self.sink(sink)
        ok = not isinstance(result, BaseException)
        with self._lock:
            if isinstance(result, RefusingToDeleteError):
                drift.not_deleted += 1
            elif isinstance(result, BaseException):
                drift.failed += 1
                self._error(f"{sink}: {key}: {result}")
            elif result is Outcome.APPLIED:
                drift.repaired += 1
            elif result is Outcome.REJECTED:
                drift.rejected += 1
            elif result is Outcome.SKIPPED:
                drift.skipped += 1
            else:  # STALE (or CONFIRM, which a repair never causes): something newer landed
                drift.raced += 1
        return ok

    def error(self, message: str) -> None:
        with self._lock:
            self._error(message)

    def _error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)

    def counted(self, listed: int = 0, compared: int = 0) -> None:
        with self._lock:
            self.listed += listed
            self.compared += compared

    # -- reading -----------------------------------------------------------------------------

    @property
    def drift(self) -> int:
        return sum(s.drift for s in self.sinks.values())

    @property
    def failed(self) -> bool:
        return bool(
            self.errors
            or self.interrupted
            or any(s.failed or s.not_deleted for s in self.sinks.values())
        )

    def exit_code(self, *, strict: bool = False) -> int:
        if self.failed:
            return 2
        if self.drift and (self.dry_run or strict):
            return 1
        return 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["drift"] = self.drift
        data["in_sync"] = self.drift == 0 and not self.failed
        return data
