"""Loading one version of a data file into a table, and removing a deleted file's rows.

The protocol (claim, read, write in place, checkpoint, flip, sweep) is in docs/records.md;
the manifest is the lock. This module runs it; each step is its own module:

    manifest      the claim (the lease), the checkpoint, the flip, the tombstone
    entries       opening the file where the load starts (Range GETs to resume)
    writers       the writer a target needs (none for a dry run)
    rows          the row loop, shared by a load and a dry run
    checkpoints   when progress is saved, against the lease and Lambda's deadline
    sweep         removing the rows of other generations
    report        the error report a rule publishes
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bucketsync.engine.update import EVENT
from bucketsync.errors import LostLeaseError, MalformedFileError, RetryableError
from bucketsync.sinks.records import report as reports
from bucketsync.sinks.records.checkpoints import EveryRow, ManifestCheckpoints
from bucketsync.sinks.records.claims import Claim, ClaimKind
from bucketsync.sinks.records.entries import FROM_THE_START, open_entries
from bucketsync.sinks.records.formats import Start
from bucketsync.sinks.records.job import Job, LoadOutcome, LoadReport, Progress, Tuning
from bucketsync.sinks.records.rows import write
from bucketsync.sinks.records.sweep import sweep
from bucketsync.sinks.records.target import Target
from bucketsync.sinks.records.writers import NoWriter, writer_for

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)


class FileLoader:
    def __init__(
        self,
        s3: S3Client,
        dynamodb: DynamoDBClient,
        *,
        tuning: Tuning | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._s3 = s3
        self._dynamodb = dynamodb
        self._tuning = tuning or Tuning()
        self._clock = clock

    @property
    def dynamodb(self) -> DynamoDBClient:
        return self._dynamodb

    # -- a new version ------------------------------------------------------------------------

    def load(
        self,
        target: Target,
        bucket: str,
        key: str,
        stamp: str,
        *,
        etag: str | None = None,
        version_id: str | None = None,
        size: int | None = None,
        seen: str | None = None,
        origin: str = EVENT,
        progress: Progress | None = None,
    ) -> LoadReport:
        """Load version ``stamp`` of the file; RetryableError when it must come back later.

        ``seen`` and ``origin`` are the update's (``engine.ordering``); a ``CONFIRM`` report
        asks for the object to be looked up first."""
        manifest = target.manifests(self._dynamodb)
        tuning = self._tuning
        claim = manifest.claim(
            bucket,
            key,
            stamp,
            now=self._clock(),
            lease=tuning.lease_seconds,
            identity=version_id or etag,
            seen=seen,
            origin=origin,
        )
        if refused := _refused(claim, bucket, key):
            return refused
        report = LoadReport(LoadOutcome.APPLIED, gen=claim.gen, rows=claim.written, bad=claim.bad)
        job = Job(manifest, target, bucket, key, stamp, report, resumed_at=claim.next_index)
        try:
            at = Start(claim.next_index, claim.next_line, claim.next_offset)
            entries = open_entries(self._s3, job, at, etag=etag, version_id=version_id)
            if entries is None:  # replaced or deleted since the event: its own event will follow
                manifest.fail(bucket, key, stamp, reason="superseded before it could be read")
                return LoadReport(LoadOutcome.STALE)
            writer = writer_for(self._dynamodb, target, bucket, key, in_flight=tuning.in_flight)
            write(job, entries, writer, ManifestCheckpoints(tuning, self._clock), progress)
        except LostLeaseError:
            # A newer version claimed the file mid-load: it overwrites and sweeps these rows.
            manifest.release(bucket, key, stamp)
            return LoadReport(LoadOutcome.STALE, gen=claim.gen)
        except MalformedFileError as exc:
            # Not one row of this version was written: the previous generation stays current.
            manifest.fail(bucket, key, stamp, reason=str(exc))
            log.warning("s3://%s/%s cannot be loaded: %s", bucket, key, exc)
            return LoadReport(LoadOutcome.REJECTED, gen=claim.gen, failure=str(exc))
        finally:
            job.close()
        try:
            manifest.complete(
                bucket,
                key,
                stamp,
                gen=report.gen,
                rows=report.rows,
                bad=report.bad,
                new_errors=report.errors[job.persisted :],
                details={
                    "etag": etag or "",
                    "version_id": version_id or "",
                    "loaded_at": int(self._clock()),
                    **({"size": size} if size is not None else {}),
                },
            )
        except LostLeaseError:
            manifest.release(bucket, key, stamp)
            return LoadReport(LoadOutcome.STALE, gen=claim.gen)
        # The generations before this one go, whichever was current before.
        if report.gen > 1:  # generation 1 is the file's first load: nothing else to sweep
            report.swept = sweep(
                self._dynamodb, target, bucket, key, keep=report.gen, in_flight=tuning.in_flight
            )
        return report

    # -- by hand: --dry-run ------------------------------------------------------------------

    def validate(
        self, target: Target, bucket: str, key: str, progress: Progress | None = None
    ) -> LoadReport:
        """Parse the file and check every row as a load would: the same row loop, through a
        writer that writes nothing, with no claim, checkpoint or flip."""
        report = LoadReport(LoadOutcome.VALIDATED)
        job = Job(target.manifests(self._dynamodb), target, bucket, key, "", report, dry=True)
        try:
            try:
                entries = open_entries(self._s3, job, FROM_THE_START, etag=None, version_id=None)
            except MalformedFileError as exc:  # not a format it can be read as
                return LoadReport(LoadOutcome.REJECTED, failure=str(exc))
            if entries is None:
                raise MalformedFileError(f"s3://{bucket}/{key} does not exist")
            try:
                write(job, entries, NoWriter(), EveryRow(), progress)
            except MalformedFileError as exc:
                return LoadReport(LoadOutcome.REJECTED, failure=str(exc))
        finally:
            job.close()
        return report

    # -- a deleted file -----------------------------------------------------------------------

    def remove(
        self,
        target: Target,
        bucket: str,
        key: str,
        stamp: str,
        *,
        seen: str | None = None,
        origin: str = EVENT,
    ) -> LoadReport:
        manifest = target.manifests(self._dynamodb)
        claim = manifest.claim(
            bucket,
            key,
            stamp,
            now=self._clock(),
            lease=self._tuning.lease_seconds,
            seen=seen,
            origin=origin,
        )
        if refused := _refused(claim, bucket, key):
            return refused
        swept = sweep(
            self._dynamodb, target, bucket, key, keep=None, in_flight=self._tuning.in_flight
        )
        expires = self._clock() + self._tuning.tombstone_ttl_days * 86_400
        try:
            manifest.tombstone(bucket, key, stamp, expires_at=expires)
        except LostLeaseError:
            # A newer version waits: it writes the file's rows again, this delete is stale.
            manifest.release(bucket, key, stamp)
            return LoadReport(LoadOutcome.STALE, gen=claim.gen, swept=swept)
        return LoadReport(LoadOutcome.APPLIED, gen=claim.gen, swept=swept)

    def publish(self, bucket: str, prefix: str, key: str, report: LoadReport) -> str:
        """Write the load's bad rows to ``s3://bucket/<prefix><key>.errors.json``."""
        return reports.publish(self._s3, bucket, prefix, key, report)


def _refused(claim: Claim, bucket: str, key: str) -> LoadReport | None:
    """What a claim that may not go ahead answers; RetryableError while another loads."""
    if claim.kind is ClaimKind.STALE:
        return LoadReport(LoadOutcome.STALE)
    if claim.kind is ClaimKind.CONFIRM:
        return LoadReport(LoadOutcome.CONFIRM)
    if claim.kind is ClaimKind.BUSY:
        raise RetryableError(f"s3://{bucket}/{key}: another version is loading")
    return None
