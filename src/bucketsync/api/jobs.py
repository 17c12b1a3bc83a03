"""Full syncs started over HTTP: one at a time, in the foreground or on a thread of their own.

A request that finds a sync running (its own kind, or the periodic one) is refused with 409
rather than queued: a second full sync right behind the first would redo the same listing.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from bucketsync.api.activity import Activity
from bucketsync.api.health import S3Check
from bucketsync.api.models import SyncDetail, SyncJob, SyncResult, SyncSummary
from bucketsync.errors import ConfigurationError, NoBucketError, RejectedError, ServiceBusyError
from bucketsync.reconcile import PeriodicSync, SyncReport, full_sync, scope_of
from bucketsync.sinks.mirror import MirrorSink

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

KEPT_JOBS = 100  # finished jobs answerable by id; older ones are forgotten
MAX_DETAILS = 1000  # in one HTTP answer; the log has every one
JOIN_SECONDS = 5.0

Diagnose = Callable[[], S3Check]  # asked only after a sync failed: which S3 problem it was


def summary_of(report: SyncReport) -> SyncSummary:
    """Seed 004's fields from a ``SyncReport``; skipped objects count as successes (in sync)."""
    succeeded = report.downloaded + report.skipped + report.deleted
    failed = report.failed + report.refused
    if failed == 0 and not report.errors:
        status: Literal["success", "partial", "failed"] = "success"
    elif succeeded:
        status = "partial"
    else:
        status = "failed"
    return SyncSummary(
        status=status,
        message=message_of(report),
        processed_files=report.listed,
        successful_operations=succeeded,
        failed_operations=failed,
        downloaded=report.downloaded,
        skipped=report.skipped,
        deleted=report.deleted,
        refused=report.refused,
        deletes_refused=report.deletes_refused,
        untracked=report.untracked,
        seconds=report.seconds,
        errors=list(report.errors),
    )


def message_of(report: SyncReport) -> str:
    """Each kind of work counted apart: a sync that changed nothing says so."""
    done = [
        f"{report.downloaded} downloaded",
        f"{report.skipped} skipped",
        f"{report.deleted} deleted",
    ]
    if report.refused:
        done.append(f"{report.refused} refused")
    if report.failed:
        done.append(f"{report.failed} failed")
    listed = f"{report.listed} file{'' if report.listed == 1 else 's'} listed"
    message = f"{listed}: {', '.join(done)} in {report.seconds:.2f} s"
    if report.errors and not report.failed:
        message += f"; {len(report.errors)} error(s), the first: {report.errors[0]}"
    if report.deletes_refused:
        message += "; nothing deleted, because the run saw errors"
    return message


@dataclass(frozen=True)
class Failure:
    """Why a sync got nothing done. ``s3``: S3 itself is the trouble (unreachable, no such
    bucket, access denied): answered 503, worth a retry; else 502."""

    reason: str
    s3: bool


def failure_of(report: SyncReport, diagnose: Diagnose | None) -> Failure:
    """What S3 says now, else the run's first error."""
    check = diagnose() if diagnose is not None else None
    if check is not None and not check.ok:
        return Failure(f"the sync failed: {check.message}", s3=check.status != "error")
    first = report.errors[0] if report.errors else "every operation failed"
    return Failure(f"the sync failed: {first}", s3=False)


def result_of(report: SyncReport) -> SyncResult:
    details = [
        SyncDetail(operation=d.operation, file_key=d.key, status=d.status, message=d.message)
        for d in report.details[:MAX_DETAILS]
    ]
    return SyncResult(
        **summary_of(report).model_dump(),
        sync_details=details,
        details_truncated=len(report.details) > MAX_DETAILS or report.details_capped,
    )


class SyncRunner:
    """Runs ``full_sync`` for the API; remembers the last run and the recent background jobs."""

    def __init__(
        self,
        sink: MirrorSink,
        s3: S3Client,
        bucket: str | None,
        *,
        periodic: PeriodicSync | None = None,
        diagnose: Diagnose | None = None,
        activity: Activity | None = None,
    ) -> None:
        self.sink = sink
        self.bucket = bucket
        self.periodic = periodic
        self.diagnose = diagnose
        self.activity = activity
        self._s3 = s3
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._jobs: OrderedDict[str, SyncJob] = OrderedDict()
        self._jobs_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last: SyncReport | None = None

    @property
    def running(self) -> bool:
        return self._lock.locked() or (self.periodic is not None and self.periodic.busy)

    def last(self) -> tuple[SyncReport | None, Literal["api", "periodic"] | None]:
        """The most recent finished run, from this runner or the periodic one."""
        ours, theirs = self._last, self.periodic.last if self.periodic else None
        if theirs is not None and (ours is None or theirs.started_at > ours.started_at):
            return theirs, "periodic"
        return ours, "api" if ours is not None else None

    def run(self, prefix: str) -> SyncReport:
        """A full sync now, in the caller's thread."""
        bucket = self._check(prefix)
        if not self._lock.acquire(blocking=False):
            raise ServiceBusyError("a full sync started over HTTP is already running")
        try:
            return self._run_locked(prefix, bucket)
        finally:
            self._lock.release()

    def start(self, prefix: str) -> SyncJob:
        """A full sync on a thread of its own; its job answers how it went."""
        bucket = self._check(prefix)
        if not self._lock.acquire(blocking=False):
            raise ServiceBusyError("a full sync started over HTTP is already running")
        job = SyncJob(job_id=uuid.uuid4().hex, prefix=prefix, state="running", started_at=_now())
        self._remember(job)
        try:
            self._thread = threading.Thread(
                target=self._background, args=(job, bucket), name="api-sync", daemon=True
            )
            self._thread.start()
        except BaseException:
            self._lock.release()
            raise
        return job

    def job(self, job_id: str) -> SyncJob | None:
        with self._jobs_lock:
            return self._jobs.get(job_id)

    def stop(self) -> None:
        """Cancel the run under way (it deletes nothing once cancelled) and wait a little."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join(timeout=JOIN_SECONDS)

    def _check(self, prefix: str) -> str:
        """The bucket to sync, or why this sync cannot start."""
        if self.bucket is None:
            raise NoBucketError(
                "no bucket is configured (BUCKETSYNC_BUCKET or S3_BUCKET_NAME), so there is "
                "nothing to sync from"
            )
        try:
            scope_of(self.sink.prefix, prefix)
        except ConfigurationError as exc:
            raise RejectedError(str(exc)) from None
        if self.periodic is not None and self.periodic.busy:
            raise ServiceBusyError("the periodic full sync is running; try again when it is done")
        return self.bucket

    def _run_locked(self, prefix: str, bucket: str) -> SyncReport:
        report = full_sync(self.sink, self._s3, bucket, prefix=prefix, cancel=self._cancel)
        self._last = report
        return report

    def failure(self, report: SyncReport) -> Failure:
        """Why ``report``'s sync failed (it got nothing done), recorded for the status page."""
        failure = failure_of(report, self.diagnose)
        if self.activity is not None:
            self.activity.error("sync", failure.reason)
        return failure

    def _background(self, job: SyncJob, bucket: str) -> None:
        try:
            report = self._run_locked(job.prefix, bucket)
        except Exception as exc:  # the job reports it; the thread must not die silently
            log.exception("background full sync %s failed", job.job_id)
            if self.activity is not None:
                self.activity.error("sync", f"the sync broke off: {exc}")
            self._remember(
                job.model_copy(update={"state": "failed", "finished_at": _now(), "error": str(exc)})
            )
            return
        finally:
            self._lock.release()
        summary = summary_of(report)
        update: dict[str, object] = {"finished_at": _now(), "result": summary}
        if summary.status == "failed":
            update.update(state="failed", error=self.failure(report).reason)
        else:
            update["state"] = "done" if summary.status == "success" else "partial"
        self._remember(job.model_copy(update=update))

    def _remember(self, job: SyncJob) -> None:
        with self._jobs_lock:
            self._jobs[job.job_id] = job
            self._jobs.move_to_end(job.job_id)
            while len(self._jobs) > KEPT_JOBS:
                self._jobs.popitem(last=False)


def _now() -> datetime:
    return datetime.now(UTC)
