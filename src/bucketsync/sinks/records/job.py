"""One version's load in progress: its settings, its report so far, the body it reads.

``LoadReport`` is what a load (or a dry run, or a delete) answers, ``LoadOutcome`` what it
came to; ``Job`` is what the steps of
one load share (``entries`` opens its body, ``rows`` fills its report, ``checkpoints`` saves it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bucketsync.aws.batch_write import BatchResult
from bucketsync.sinks.records.manifest import MAX_REPORTED_ERRORS, ManifestStore
from bucketsync.sinks.records.target import Target

log = logging.getLogger(__name__)

LOGGED_ROW_ERRORS = 20  # per file: the manifest and the report hold the rest


@dataclass(frozen=True, slots=True)
class Tuning:
    checkpoint_rows: int = 10_000
    checkpoint_seconds: float = 10.0
    lease_seconds: float = 300.0  # outlives the gap between two checkpoints
    deadline_margin: float = 15.0  # kept to flush and checkpoint before Lambda stops
    in_flight: int = 4
    tombstone_ttl_days: float = 30.0


class LoadOutcome(StrEnum):
    """What one load of a file into a table came to. A string, as in the error report's JSON;
    the records sink folds a file's loads (one per table) into the engine's ``Outcome``."""

    APPLIED = "applied"  # this version's rows are the table's current generation
    STALE = "stale"  # a newer version is loaded, or on its way
    REJECTED = "rejected"  # the file cannot be parsed at all: recorded, not retried
    CONFIRM = "confirm"  # look the object up, then load again (engine.ordering)
    VALIDATED = "validated"  # a dry run: read and checked, nothing written


@dataclass(slots=True)
class LoadReport:
    outcome: LoadOutcome  # a StrEnum: the error report's JSON still reads "applied", "stale"...
    gen: int = 0
    rows: int = 0
    bad: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None
    swept: int = 0


Progress = Callable[["LoadReport", int], None]  # (rows so far, bytes of the object read)


class Counting:
    """The object's body, counting the bytes read (for progress bars) from where it starts."""

    def __init__(self, raw: Any, start: int = 0) -> None:
        self._raw = raw
        self.bytes = start

    def read(self, size: int = -1, /) -> bytes:
        data: bytes = self._raw.read(size)
        self.bytes += len(data)
        return data

    def close(self) -> None:
        self._raw.close()


@dataclass(slots=True)
class Job:
    """One version's load in progress (``dry``: a dry run, which writes and saves nothing)."""

    manifest: ManifestStore
    target: Target
    bucket: str
    key: str
    stamp: str
    report: LoadReport
    resumed_at: int = 0  # the checkpoint this attempt started from
    submitted: int = 0  # rows handed to the writer by this attempt
    body: Counting | None = None
    persisted: int = 0  # of report.errors, how many the manifest already holds
    dry: bool = False

    @property
    def read(self) -> int:
        """Bytes of the object read so far (counted from where the read started)."""
        return self.body.bytes if self.body else 0

    def bad(self, index: int | None, line: int | None, reason: str) -> None:
        report = self.report
        report.bad += 1
        if len(report.errors) < MAX_REPORTED_ERRORS:
            report.errors.append({"index": index, "line": line, "reason": reason})
        if report.bad <= LOGGED_ROW_ERRORS:
            log.warning("s3://%s/%s line %s: %s", self.bucket, self.key, line, reason)

    def settle(self, result: BatchResult) -> None:
        self.report.rows += result.written
        for failure in result.failures:
            index, line = failure.tag if isinstance(failure.tag, tuple) else (None, None)
            self.bad(index, line, f"not written: {failure.error}")

    def rejects(self) -> bool:
        """Whether a file that breaks now is rejected whole rather than cut at the break.

        A load is, when this version wrote nothing (no attempt of it handed the writer a row):
        the previous generation then stays current. A dry run is only when it read nothing at
        all, bad rows included, as ``load --dry-run`` always reported it.
        """
        if self.dry:
            return self.submitted == 0 and self.report.bad == 0
        return self.submitted == 0 and self.resumed_at == 0

    def close(self) -> None:
        if self.body is not None:
            self.body.close()
