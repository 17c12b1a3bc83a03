"""Opening a file's entries where a load starts: the first row, or a checkpoint.

A checkpoint with a byte offset (uncompressed UTF-8 JSON Lines and CSV: ``formats
.offsets_exact``) resumes with a Range GET from there, pinned to the version being loaded; a
CSV file's header is then read again by a second, small GET of the bytes before it. A
checkpoint without one (a first attempt, gzip, JSON, other encodings) reads from the start
again and skips the rows already done.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bucketsync.aws.s3 import open_object
from bucketsync.sinks.records.formats import (
    Row,
    RowError,
    Start,
    detect,
    offsets_exact,
    read_header,
    read_object,
)
from bucketsync.sinks.records.job import Counting, Job

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

FROM_THE_START = Start(0, 0, 0)  # as a claim with no checkpoint has it


class _CannotSeek(Exception):
    """A checkpoint's byte offset that the file, as the rule now reads it, cannot use."""


def open_entries(
    s3: S3Client, job: Job, at: Start, *, etag: str | None, version_id: str | None
) -> Iterator[Row | RowError] | None:
    """The file's entries from ``at`` on, with ``job.body`` open; None if the version is gone.

    Unpinned (no version id, no etag), the object could have changed under the offset, so only
    a pinned read resumes by offset."""
    if at.offset > 0 and at.line > 0 and (etag or version_id):
        try:
            return _ranged(s3, job, at, etag=etag, version_id=version_id)
        except _CannotSeek:  # the rule's options changed since the checkpoint
            log.info("s3://%s/%s: resuming by reading again", job.bucket, job.key)
    opened = open_object(s3, job.bucket, job.key, etag=etag, version_id=version_id)
    if opened is None:
        return None
    job.body = Counting(opened.body)
    return read_object(
        job.body,
        key=job.key,
        content_encoding=opened.encoding,
        options=job.target.options,
        skip=at.index,
    )


def _ranged(
    s3: S3Client, job: Job, at: Start, *, etag: str | None, version_id: str | None
) -> Iterator[Row | RowError] | None:
    """The entries from byte ``at.offset`` on; _CannotSeek if offsets do not apply."""
    bucket, key, options = job.bucket, job.key, job.target.options
    opened = open_object(s3, bucket, key, etag=etag, version_id=version_id, first=at.offset)
    if opened is None:
        return None
    job.body, encoding = Counting(opened.body, at.offset), opened.encoding
    if opened.ended:  # checkpointed after the last row: nothing is left to read
        return iter(())
    kind, gzip = detect(key, encoding, options)
    if not offsets_exact(kind, gzip, options):
        job.close()
        job.body = None
        raise _CannotSeek(f"s3://{bucket}/{key} cannot be read from a byte offset")
    header = None
    if kind == "csv":
        # Read again from this very version rather than kept in the manifest: a wide
        # header would weigh on every checkpoint's write (and could push the item past
        # DynamoDB's 400 KB), while this is one small GET per resume, which is rare.
        head = open_object(s3, bucket, key, etag=etag, version_id=version_id, last=at.offset - 1)
        if head is None:
            return None
        top = head.body
        try:
            header = read_header(top, key=key, content_encoding=encoding, options=options)
        finally:
            top.close()
    return read_object(
        job.body,
        key=key,
        content_encoding=encoding,
        options=options,
        start=at,
        header=header,
    )
