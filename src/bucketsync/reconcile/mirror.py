"""Full sync: reconcile's march over the mirror, reported the way the sync service speaks.

There is one code path: ``bucketsync.reconcile`` walks the bucket's listing against the mirror's
store in key order and repairs what differs (download what is missing or changed, remove what
is gone, through the sink and its rules), under ``engine.ordering``'s repair rule: nothing
written after the listing page that saw a key was requested is replaced or removed. Any
listing error, or a cancel, and nothing is deleted in that run. This module only turns the
reconcile's report into a ``SyncReport`` (counts, per-key details) and counts the files under
the root that the mirror did not write (a user's: never touched; an interrupted download's
temporary file older than an hour: removed).

A full sync is also how a lost state store is rebuilt (``rebuild``, which the sink runs before
its next batch of events; see ``sinks.mirror.guard``): the store is checked first (put back if
it was deleted under us, set aside if corrupt), the rows the mirror's marks bring back are in
it, and the march adopts the files that already hold their objects and removes those whose
objects are gone. A run over the mirror's whole prefix that listed everything and deleted
what it had to clears the store's rebuild. The sinks cannot import reconcile, which builds on
them: ``bucketsync.compose`` hands ``rebuild`` to every mirror it builds, and whoever builds
one by hand (a test, a benchmark) hands it too, or gets a mirror that cannot rebuild.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bucketsync.engine.stamp import ObservationClock
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import ConfigurationError, RefusingToDeleteError, RetryableError
from bucketsync.reconcile.listing import S3Listing
from bucketsync.reconcile.report import SinkDrift
from bucketsync.reconcile.run import Options, Reconciler
from bucketsync.sinks.mirror import MirrorSink, MirrorStore, count_untracked_and_clear_stale_temps

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

MAX_DETAILS = 10_000  # the counts stay exact past it
MAX_ERRORS = 100


@dataclass
class SyncDetail:
    operation: str  # "download", "delete", "skip", "refuse"
    key: str
    status: str  # "success", "failed", "skipped"
    message: str = ""


@dataclass
class SyncReport:
    """What one full sync did. ``listed`` leaves folder placeholders out; ``skipped`` counts
    unchanged objects, objects over the size limit, and updates a newer state overtook."""

    listed: int = 0
    downloaded: int = 0
    skipped: int = 0
    deleted: int = 0
    failed: int = 0
    deletes_refused: bool = False
    errors: list[str] = field(default_factory=list)
    details: list[SyncDetail] = field(default_factory=list)
    seconds: float = 0.0
    refused: int = 0  # keys that cannot be written safely (see the details for why)
    adopted: int = 0  # of the skipped: files already there that hold their objects, taken
    untracked: int = 0  # files under the root the mirror did not write: left alone
    started_at: float = 0.0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()  # repairs settle on several threads

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)

    @property
    def details_capped(self) -> bool:
        """Whether details were left out: the counts are exact, the list stops at its cap."""
        return len(self.details) >= MAX_DETAILS

    def detail(self, operation: str, key: str, status: str, message: str = "") -> None:
        if len(self.details) < MAX_DETAILS:
            self.details.append(SyncDetail(operation, key, status, message))


def scope_of(sink_prefix: str, prefix: str) -> str:
    """The keys one run covers: the narrower of the mirror's prefix and the run's."""
    if prefix.startswith(sink_prefix):
        return prefix
    if sink_prefix.startswith(prefix):
        return sink_prefix
    raise ConfigurationError(f"prefix {prefix!r} is outside the mirror's prefix {sink_prefix!r}")


def full_sync(
    sink: MirrorSink,
    s3: S3Client,
    bucket: str,
    *,
    prefix: str = "",
    clock: ObservationClock | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    page_size: int = 1000,
) -> SyncReport:
    """Download what is missing or changed under the prefix, remove what is gone.

    ``progress(done, total)`` is called as objects are settled (total grows with the listing).
    ``cancel`` stops the run early: nothing more is started and nothing is deleted.
    """
    sink.guard.check()
    return _sync(
        sink,
        s3,
        bucket,
        prefix=prefix,
        clock=clock,
        progress=progress,
        cancel=cancel,
        page_size=page_size,
    )


def rebuild(sink: MirrorSink, s3: S3Client, bucket: str) -> SyncReport:
    """The full sync that rebuilds the sink's store (the sink's guard calls it, holding its
    batches back meanwhile); raises ``RetryableError`` if the run could not finish, so the
    batch that waits for it fails as ours and the rebuild is tried again before the next."""
    report = _sync(sink, s3, bucket, prefix=sink.prefix)
    if sink.store.rebuild_reason:
        first = report.errors[0] if report.errors else "the run did not finish"
        raise RetryableError(f"the mirror's state store is not rebuilt yet: {first}")
    log.warning(
        "the mirror's state store is rebuilt: %d adopted, %d downloaded, %d removed",
        report.adopted,
        report.downloaded,
        report.deleted,
    )
    return report


def _sync(
    sink: MirrorSink,
    s3: S3Client,
    bucket: str,
    *,
    prefix: str,
    clock: ObservationClock | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    page_size: int = 1000,
) -> SyncReport:
    report = SyncReport(started_at=time.time())
    owed = sink.store.rebuild_reason  # this run clears it if it covers the mirror, whole
    adopted = sink.counters()["adopted"]
    began = time.monotonic()
    listing = S3Listing(s3, bucket, scope_of(sink.prefix, prefix), clock=clock, page_size=page_size)
    reconciler = Reconciler(
        listing,
        [sink],
        # As many downloads at once as the sink's own pool runs (each in a repair thread).
        options=Options(workers=sink.concurrency, parallel=1),
        clock=clock,
        progress=(lambda r: progress(*_done_of(r.sinks[sink.name]))) if progress else None,
        settled=lambda _sink, update, result: _record(report, sink, update, result),
    )
    result = reconciler.run(cancel=cancel)
    drift = result.sinks[sink.name]
    report.listed = drift.equal + drift.newer + drift.missing + drift.stale
    report.skipped += drift.equal + drift.newer
    report.deletes_refused = result.deletes_refused is not None or bool(result.errors)
    for message in result.errors:
        report.error(message)
    report.adopted = sink.counters()["adopted"] - adopted  # events may adopt meanwhile: roughly
    whole = scope_of(sink.prefix, prefix) == sink.prefix and not (cancel and cancel.is_set())
    if owed and whole and not report.deletes_refused and sink.store.rebuild_reason == owed:
        sink.store.rebuilt()
    if not (cancel and cancel.is_set()):
        report.untracked = count_untracked_and_clear_stale_temps(sink.root, sink.store)
    report.seconds = time.monotonic() - began
    log.info(
        "full sync of s3://%s/%s: %d listed, %d downloaded, %d skipped, %d deleted, "
        "%d refused, %d failed%s in %.1f s",
        bucket,
        prefix,
        report.listed,
        report.downloaded,
        report.skipped,
        report.deleted,
        report.refused,
        report.failed,
        ", deletes refused" if report.deletes_refused else "",
        report.seconds,
    )
    return report


def _record(
    report: SyncReport, sink: MirrorSink, update: Update, result: Outcome | BaseException
) -> None:
    """One settled repair, in the service's words (called from the repair threads)."""
    operation = "download" if update.state.present else "delete"
    key = update.key
    with report.lock:
        if isinstance(result, RefusingToDeleteError):
            report.detail("delete", key, "skipped", str(result))
        elif isinstance(result, BaseException):
            report.failed += 1
            report.error(f"{operation} {key}: {result}")
            report.detail(operation, key, "failed", str(result))
        elif result is Outcome.APPLIED:
            if operation == "delete":
                report.deleted += 1
            else:
                report.downloaded += 1
            report.detail(operation, key, "success")
        elif result is Outcome.REJECTED:
            report.refused += 1
            report.detail("refuse", key, "failed", _reason(sink.store, key))
        elif result is Outcome.STALE:
            report.skipped += 1
            message = "a newer state of this key is mirrored, or on its way"
            report.detail(operation if operation == "delete" else "skip", key, "skipped", message)
        else:
            report.skipped += 1
            report.detail("skip", key, "skipped", _reason(sink.store, key))


def _done_of(drift: SinkDrift) -> tuple[int, int]:
    """(settled, seen so far): what the service's progress callback counts."""
    settled = drift.repaired + drift.raced + drift.skipped + drift.rejected + drift.failed
    seen = drift.equal + drift.newer + drift.missing + drift.stale + drift.phantom
    return drift.equal + drift.newer + settled + drift.not_deleted, seen


def _reason(store: MirrorStore, key: str) -> str:
    entry = store.get(key)
    return entry.reason if entry is not None else ""
