"""The row loop: a file's entries become items, handed to a writer, counted in the report.

The one loop a load and a dry run share: a load writes through the target's writer and saves
its progress in the manifest; a dry run writes through ``NoWriter`` and saves nothing
(``writers``, ``checkpoints``). A bad row (unparseable, unconvertible, refused) is counted and
reported, never fatal. A file that breaks part-way keeps what was read, the break being its
last bad row; one that breaks before anything is written is rejected whole (``Job.rejects``).
"""

from __future__ import annotations

from collections.abc import Iterator

from bucketsync.errors import MalformedFileError, RowValueError
from bucketsync.sinks.records.checkpoints import Checkpoints
from bucketsync.sinks.records.formats import Row, RowError
from bucketsync.sinks.records.job import Job, Progress
from bucketsync.sinks.records.target import row_item
from bucketsync.sinks.records.writers import RowWriter

PROGRESS_EVERY = 1000  # rows between two progress callbacks


def write(
    job: Job,
    entries: Iterator[Row | RowError],
    writer: RowWriter,
    checkpoints: Checkpoints,
    progress: Progress | None = None,
) -> None:
    """Every entry through ``writer``, settled in ``job.report``; MalformedFileError if the
    file breaks before anything of it is written (the writer is closed either way)."""
    with writer:
        try:
            _rows(job, entries, writer, checkpoints, progress)
        except MalformedFileError as exc:
            if job.rejects():
                raise
            # It broke part-way: what was read stands, and the break is its last bad row.
            job.bad(None, exc.line, f"the file breaks here: {exc.reason}")
        job.settle(writer.flush())
    if progress is not None:
        progress(job.report, job.read)


def _rows(
    job: Job,
    entries: Iterator[Row | RowError],
    writer: RowWriter,
    checkpoints: Checkpoints,
    progress: Progress | None,
) -> None:
    report = job.report
    for entry in entries:
        if isinstance(entry, RowError):
            job.bad(entry.index, entry.line, entry.reason)
        else:
            try:
                item = row_item(entry, job.target, job.bucket, job.key, report.gen)
            except RowValueError as exc:
                job.bad(entry.index, entry.line, str(exc))
            else:
                writer.put(item, tag=(entry.index, entry.line))
                job.submitted += 1
        if progress is not None and entry.index % PROGRESS_EVERY == 0:
            progress(report, job.read)
        checkpoints.after(job, entry, writer)
