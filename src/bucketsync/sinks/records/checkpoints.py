"""When a load saves its progress, and what it saves: against the lease and Lambda's deadline.

A load checkpoints every ``Tuning.checkpoint_rows`` rows or ``checkpoint_seconds``, whichever
comes first, and once more when the invocation has less than ``deadline_margin`` left: it then
stops with ``UnfinishedError``, and the message's next delivery resumes from there. Every
checkpoint settles the writer first, so what the manifest says was written was; and renews the
lease, or finds it lost (``LostLeaseError``) when a newer version waits.

A dry run checkpoints nothing: its rows settle one by one, and it has no deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from bucketsync import deadline
from bucketsync.errors import UnfinishedError
from bucketsync.sinks.records.formats import Row, RowError
from bucketsync.sinks.records.job import Job, Tuning
from bucketsync.sinks.records.writers import RowWriter


class Checkpoints(Protocol):
    def after(self, job: Job, entry: Row | RowError, writer: RowWriter) -> None:
        """``entry`` is done (written, or counted bad): save the progress if it is time."""


class ManifestCheckpoints:
    """A load's: progress saved in the file's manifest (``ManifestStore.checkpoint``)."""

    def __init__(self, tuning: Tuning, clock: Callable[[], float]) -> None:
        self._tuning = tuning
        self._clock = clock
        self._since = 0
        self._last = time.monotonic()

    def after(self, job: Job, entry: Row | RowError, writer: RowWriter) -> None:
        tuning, report = self._tuning, job.report
        self._since += 1
        left = deadline.remaining()
        out_of_time = left is not None and left < tuning.deadline_margin
        if not (
            self._since >= tuning.checkpoint_rows
            or time.monotonic() - self._last >= tuning.checkpoint_seconds
            or out_of_time
        ):
            return
        job.settle(writer.flush())
        after = entry.after  # None where the format has no exact byte offsets
        job.manifest.checkpoint(
            job.bucket,
            job.key,
            job.stamp,
            next_index=entry.index + 1,
            next_offset=after.offset if after else 0,
            next_line=after.line if after else 0,
            written=report.rows,
            bad=report.bad,
            new_errors=report.errors[job.persisted :],
            now=self._clock(),
            lease=tuning.lease_seconds,
        )
        self._since, self._last, job.persisted = 0, time.monotonic(), len(report.errors)
        if out_of_time:
            raise UnfinishedError(
                f"s3://{job.bucket}/{job.key}: out of time at row {entry.index + 1}; "
                "the retry resumes there"
            )


class EveryRow:
    """A dry run's: each row settles at once (its writer writes nothing), nothing is saved."""

    def after(self, job: Job, entry: Row | RowError, writer: RowWriter) -> None:
        job.settle(writer.flush())
