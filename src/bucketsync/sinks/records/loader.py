"""Loading one version of a data file into a table, and removing a deleted file's rows.

The protocol (claim, read, write in place, checkpoint, flip, sweep) is in docs/records.md;
the manifest is the lock. Rows go out through ``aws.batch.BatchWriter``: unconditional, which
is safe because only the lease holder writes a file's rows.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

from bucketsync import deadline
from bucketsync.aws.batch import BatchResult, BatchWriter
from bucketsync.aws.s3 import open_object, put_object
from bucketsync.engine.state import EVENT
from bucketsync.errors import (
    ConfigurationError,
    MalformedFileError,
    RetryableError,
    UnfinishedError,
)
from bucketsync.sinks.records.formats import (
    FormatOptions,
    Row,
    RowError,
    Start,
    detect,
    offsets_exact,
    read_header,
    read_object,
)
from bucketsync.sinks.records.keyed import FILE_ATTRIBUTE, KeyedRowWriter
from bucketsync.sinks.records.manifest import (
    MAX_REPORTED_ERRORS,
    ROW_PREFIX,
    Claim,
    ClaimKind,
    LostLeaseError,
    ManifestStore,
    file_partition,
)
from bucketsync.sinks.records.sweep import sweep
from bucketsync.sinks.records.values import MAX_ITEM_BYTES, RowValueError, convert, item_size

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)


PROGRESS_EVERY = 1000  # rows between two progress callbacks
RESERVED = frozenset({"pk", "sk", "_gen"})
KEYED_RESERVED = frozenset({FILE_ATTRIBUTE, "_gen"})
_deserializer = TypeDeserializer()
LOGGED_ROW_ERRORS = 20  # per file: the manifest and the report hold the rest


@dataclass(frozen=True, slots=True)
class Target:
    """Where a file's rows go and how to read it (one routing rule, resolved).

    With ``key_fields``, rows are upserted under their own key into a shared table; a row whose
    key another file already loaded is a conflict (a bad row), never an overwrite. Their
    manifests then live in ``manifest_table`` (the catalog's), as the rows' table has the
    user's key schema.
    """

    table: str
    options: FormatOptions = field(default_factory=FormatOptions)
    key_fields: tuple[str, ...] = ()
    manifest_table: str | None = None

    def manifests(self, client: DynamoDBClient) -> ManifestStore:
        if not self.key_fields:
            return ManifestStore(client, self.table)
        if not self.manifest_table:
            raise ConfigurationError(f"rows keyed by {self.key_fields} need a manifest table")
        return ManifestStore(client, self.manifest_table, sk=f"MANIFEST#{self.table}")


@dataclass(slots=True)
class LoadReport:
    # "applied", "stale", "rejected" (the file cannot be parsed at all), "confirm" (look the
    # object up: engine.ordering)
    outcome: str
    gen: int = 0
    rows: int = 0
    bad: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None
    swept: int = 0


Progress = Callable[["LoadReport", int], None]  # (rows so far, bytes of the object read)


class _Counting:
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
class _Job:
    """One version's load in progress."""

    manifest: ManifestStore
    target: Target
    bucket: str
    key: str
    stamp: str
    report: LoadReport
    resumed_at: int = 0  # the checkpoint this attempt started from
    submitted: int = 0  # rows handed to the writer by this attempt
    body: _Counting | None = None
    persisted: int = 0  # of report.errors, how many the manifest already holds

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


class _PastTheEnd(Exception):
    """A Range GET starting at or after the end of the object (HTTP 416)."""


class _CannotSeek(Exception):
    """A checkpoint's byte offset that the file, as the rule now reads it, cannot use."""


@dataclass(frozen=True, slots=True)
class Tuning:
    checkpoint_rows: int = 10_000
    checkpoint_seconds: float = 10.0
    lease_seconds: float = 300.0  # outlives the gap between two checkpoints
    deadline_margin: float = 15.0  # kept to flush and checkpoint before Lambda stops
    in_flight: int = 4
    tombstone_ttl_days: float = 30.0


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

        ``seen`` and ``origin`` are the update's (``engine.ordering``); a "confirm" report
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
        if claim.kind is ClaimKind.STALE:
            return LoadReport("stale")
        if claim.kind is ClaimKind.CONFIRM:
            return LoadReport("confirm")
        if claim.kind is ClaimKind.BUSY:
            raise RetryableError(f"s3://{bucket}/{key}: another version is loading")
        report = LoadReport("applied", gen=claim.gen, rows=claim.written, bad=claim.bad)
        job = _Job(manifest, target, bucket, key, stamp, report, resumed_at=claim.next_index)
        try:
            entries = self._entries(job, claim, etag=etag, version_id=version_id)
            if entries is None:  # replaced or deleted since the event: its own event will follow
                manifest.fail(bucket, key, stamp, reason="superseded before it could be read")
                return LoadReport("stale")
            self._write(job, entries, progress)
        except LostLeaseError:
            # A newer version claimed the file mid-load: it overwrites and sweeps these rows.
            return LoadReport("stale", gen=claim.gen)
        except MalformedFileError as exc:
            # Not one row of this version was written: the previous generation stays current.
            manifest.fail(bucket, key, stamp, reason=str(exc))
            log.warning("s3://%s/%s cannot be loaded: %s", bucket, key, exc)
            return LoadReport("rejected", gen=claim.gen, failure=str(exc))
        finally:
            if job.body is not None:
                job.body.close()
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
            return LoadReport("stale", gen=claim.gen)
        # Every generation but this one goes, whichever was current before.
        if report.gen > 1:  # generation 1 is the file's first load: nothing else to sweep
            report.swept = sweep(
                self._dynamodb,
                target,
                bucket,
                key,
                keep=report.gen,
                in_flight=self._tuning.in_flight,
            )
        return report

    def _entries(
        self, job: _Job, claim: Claim, *, etag: str | None, version_id: str | None
    ) -> Iterator[Row | RowError] | None:
        """The file's entries from the claim's checkpoint on, with ``job.body`` open; None if
        the version is gone. A checkpoint with a byte offset resumes with a Range GET there;
        one without (a first attempt, gzip, JSON, other encodings) re-reads from the start."""
        at = Start(claim.next_index, claim.next_line, claim.next_offset)
        # Unpinned (no version id, no etag), the object could have changed under the offset.
        if at.offset > 0 and at.line > 0 and (etag or version_id):
            try:
                return self._ranged(job, at, etag=etag, version_id=version_id)
            except _PastTheEnd:  # checkpointed after the last row: nothing is left to read
                job.body = _Counting(io.BytesIO(), at.offset)
                return iter(())
            except _CannotSeek:  # the rule's options changed since the checkpoint
                log.info("s3://%s/%s: resuming by reading again", job.bucket, job.key)
        opened = self._open(job.bucket, job.key, etag=etag, version_id=version_id)
        if opened is None:
            return None
        job.body, encoding = opened
        return read_object(
            job.body,
            key=job.key,
            content_encoding=encoding,
            options=job.target.options,
            skip=at.index,
        )

    def _ranged(
        self, job: _Job, at: Start, *, etag: str | None, version_id: str | None
    ) -> Iterator[Row | RowError] | None:
        """The entries from byte ``at.offset`` on; _CannotSeek if offsets do not apply."""
        options = job.target.options
        opened = self._open(job.bucket, job.key, etag=etag, version_id=version_id, first=at.offset)
        if opened is None:
            return None
        job.body, encoding = opened
        kind, gzip = detect(job.key, encoding, options)
        if not offsets_exact(kind, gzip, options):
            job.body.close()
            job.body = None
            raise _CannotSeek(f"s3://{job.bucket}/{job.key} cannot be read from a byte offset")
        header = None
        if kind == "csv":
            # Read again from this very version rather than kept in the manifest: a wide
            # header would weigh on every checkpoint's write (and could push the item past
            # DynamoDB's 400 KB), while this is one small GET per resume, which is rare.
            head = self._open(
                job.bucket, job.key, etag=etag, version_id=version_id, last=at.offset - 1
            )
            if head is None:
                return None
            top = head[0]
            try:
                header = read_header(top, key=job.key, content_encoding=encoding, options=options)
            finally:
                top.close()
        return read_object(
            job.body,
            key=job.key,
            content_encoding=encoding,
            options=options,
            start=at,
            header=header,
        )

    def _write(
        self,
        job: _Job,
        entries: Iterator[Row | RowError],
        progress: Progress | None,
    ) -> None:
        tuning, report = self._tuning, job.report
        writer: BatchWriter | KeyedRowWriter
        if job.target.key_fields:
            writer = KeyedRowWriter(
                self._dynamodb,
                job.target.table,
                key_fields=job.target.key_fields,
                file_id=f"{job.bucket}/{job.key}",
            )
        else:
            writer = BatchWriter(
                self._dynamodb,
                job.target.table,
                key_attributes=("pk", "sk"),
                in_flight=tuning.in_flight,
            )
        with writer:
            try:
                self._rows(job, entries, writer, progress)
            except MalformedFileError as exc:
                if job.submitted == 0 and job.resumed_at == 0:
                    raise
                # It broke part-way: what was read stands, and the break is its last bad row.
                job.bad(None, exc.line, f"the file breaks here: {exc.reason}")
            job.settle(writer.flush())
        if progress is not None:
            progress(report, job.body.bytes if job.body else 0)

    def _rows(
        self,
        job: _Job,
        entries: Iterator[Row | RowError],
        writer: BatchWriter | KeyedRowWriter,
        progress: Progress | None,
    ) -> None:
        tuning, report = self._tuning, job.report
        since, last_checkpoint = 0, time.monotonic()
        for entry in entries:
            if isinstance(entry, RowError):
                job.bad(entry.index, entry.line, entry.reason)
            else:
                try:
                    item = _row_item(entry, job.target, job.bucket, job.key, report.gen)
                except RowValueError as exc:
                    job.bad(entry.index, entry.line, str(exc))
                else:
                    writer.put(item, tag=(entry.index, entry.line))
                    job.submitted += 1
            since += 1
            if progress is not None and entry.index % PROGRESS_EVERY == 0:
                progress(report, job.body.bytes if job.body else 0)
            left = deadline.remaining()
            out_of_time = left is not None and left < tuning.deadline_margin
            if (
                since >= tuning.checkpoint_rows
                or time.monotonic() - last_checkpoint >= tuning.checkpoint_seconds
                or out_of_time
            ):
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
                since, last_checkpoint, job.persisted = 0, time.monotonic(), len(report.errors)
                if out_of_time:
                    raise UnfinishedError(
                        f"s3://{job.bucket}/{job.key}: out of time at row {entry.index + 1}; "
                        "the retry resumes there"
                    )

    # -- by hand: --dry-run ------------------------------------------------------------------

    def validate(
        self, target: Target, bucket: str, key: str, progress: Progress | None = None
    ) -> LoadReport:
        """Parse the file and check every row as a load would, writing nothing."""
        report = LoadReport("validated")
        job = _Job(target.manifests(self._dynamodb), target, bucket, key, "", report)
        opened = self._open(bucket, key, etag=None, version_id=None)
        if opened is None:
            raise MalformedFileError(f"s3://{bucket}/{key} does not exist")
        job.body, encoding = opened
        try:
            for entry in read_object(
                job.body, key=key, content_encoding=encoding, options=target.options
            ):
                if isinstance(entry, RowError):
                    job.bad(entry.index, entry.line, entry.reason)
                else:
                    try:
                        _row_item(entry, target, bucket, key, 0)
                    except RowValueError as exc:
                        job.bad(entry.index, entry.line, str(exc))
                    else:
                        report.rows += 1
                if progress is not None and entry.index % PROGRESS_EVERY == 0:
                    progress(report, job.body.bytes)
        except MalformedFileError as exc:
            if report.rows == 0 and report.bad == 0:
                return LoadReport("rejected", failure=str(exc))
            job.bad(None, exc.line, f"the file breaks here: {exc.reason}")
        finally:
            job.body.close()
        if progress is not None:
            progress(report, job.body.bytes)
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
        if claim.kind is ClaimKind.STALE:
            return LoadReport("stale")
        if claim.kind is ClaimKind.CONFIRM:
            return LoadReport("confirm")
        if claim.kind is ClaimKind.BUSY:
            raise RetryableError(f"s3://{bucket}/{key}: another version is loading")
        swept = sweep(
            self._dynamodb, target, bucket, key, keep=None, in_flight=self._tuning.in_flight
        )
        expires = self._clock() + self._tuning.tombstone_ttl_days * 86_400
        manifest.tombstone(bucket, key, stamp, expires_at=expires)
        return LoadReport("applied", gen=claim.gen, swept=swept)

    def publish(self, bucket: str, prefix: str, key: str, report: LoadReport) -> str:
        """Write the load's bad rows to ``s3://bucket/<prefix><key>.errors.json``."""
        target = f"{prefix}{key}.errors.json"
        put_object(
            self._s3,
            bucket,
            target,
            error_report(bucket, key, report),
            content_type="application/json",
        )
        return target

    # -- plumbing -----------------------------------------------------------------------------

    def _open(
        self,
        bucket: str,
        key: str,
        *,
        etag: str | None,
        version_id: str | None,
        first: int = 0,
        last: int | None = None,
    ) -> tuple[_Counting, str | None] | None:
        """The body from byte ``first`` to ``last`` (the end for None) and its encoding; None
        if that version is gone; PastTheEnd if ``first`` is past the last byte."""
        opened = open_object(
            self._s3, bucket, key, etag=etag, version_id=version_id, first=first, last=last
        )
        if opened is None:
            return None
        if opened.ended:
            raise _PastTheEnd(f"s3://{bucket}/{key} ends before byte {first}")
        return _Counting(opened.body, first), opened.encoding


def _row_item(row: Row, target: Target, bucket: str, key: str, gen: int) -> dict[str, Any]:
    item, size = convert(row.value, key_attributes=target.key_fields)
    if size > MAX_ITEM_BYTES:
        raise RowValueError(f"item is {size:,} bytes; DynamoDB's limit is 400 KB")
    reserved = KEYED_RESERVED if target.key_fields else RESERVED
    clash = reserved.intersection(item)
    if clash:
        raise RowValueError(f"field {sorted(clash)[0]!r} is reserved by bucketsync")
    if target.key_fields:
        item[FILE_ATTRIBUTE] = f"{bucket}/{key}"
    else:
        item["pk"] = file_partition(bucket, key)
        item["sk"] = f"{ROW_PREFIX}{row.index:012d}"
    item["_gen"] = gen
    # The reserved names are the ones just added: the limit is on the whole item.
    size += item_size({name: item[name] for name in reserved})
    if size > MAX_ITEM_BYTES:
        raise RowValueError(f"item is {size:,} bytes with its keys; DynamoDB's limit is 400 KB")
    return item


def error_report(bucket: str, key: str, report: LoadReport) -> bytes:
    """The bad rows of one load as JSON (what goes under a rule's ``errors_prefix``)."""
    document = {
        "source": f"s3://{bucket}/{key}",
        "outcome": report.outcome,
        "generation": report.gen,
        "rows": report.rows,
        "bad_rows": report.bad,
        "failure": report.failure,
        "errors": report.errors,  # the first MAX_REPORTED_ERRORS; bad_rows is the full count
    }
    return json.dumps(document, indent=1, default=str).encode()
