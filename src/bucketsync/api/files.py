"""Listing the bucket and the mirror page by page.

A page of the bucket is exactly one ``ListObjectsV2`` call (``MaxKeys`` = the page size), and
its cursor carries S3's own continuation token; a page of the mirror is one bounded query of
its store, its cursor carrying the last key. Either way a request costs a bounded amount of
work whatever its parameters: the cursor is opaque and checked (``bucketsync.api.cursor``), so
nothing a client writes in it makes the service list from the start and skip keys itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bucketsync.api.cursor import make_cursor
from bucketsync.api.models import FileInfo, FileList
from bucketsync.aws.s3 import resume_page
from bucketsync.errors import CursorError
from bucketsync.sinks.mirror import MirrorStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def list_bucket_page(
    s3: S3Client, bucket: str, prefix: str, *, limit: int, token: str | None
) -> FileList:
    """One page of ``ListObjectsV2`` under ``prefix``: one call, resuming at S3's ``token``."""
    answer = resume_page(s3, bucket, prefix, limit=limit, token=token)
    if answer is None:
        raise CursorError(
            "S3 does not take this cursor's continuation token any more: list again "
            "without a cursor"
        )
    files = [_file_info(item) for item in answer.get("Contents", [])]
    following = answer.get("NextContinuationToken")
    more = bool(answer.get("IsTruncated")) and bool(following)
    next_cursor = make_cursor("s3", prefix, str(following)) if more else None
    return FileList(source="s3", prefix=prefix, files=files, next_cursor=next_cursor)


def _file_info(item: Any) -> FileInfo:
    return FileInfo(
        key=item["Key"],
        size=item.get("Size"),
        etag=item.get("ETag", "").strip('"') or None,
        last_modified=item.get("LastModified"),
    )


def list_mirror_page(store: MirrorStore, prefix: str, *, limit: int, after: str | None) -> FileList:
    """One page of the files the mirror holds on disk under ``prefix``, after the key ``after``.

    Keys the mirror knows but keeps no file for (too large, refused) are left out, so a page
    may hold fewer than ``limit`` files: only a null ``next_cursor`` means the end.
    """
    # One row more than the page tells whether another page follows, without a count.
    rows = store.entries(prefix, after=after, limit=limit + 1)
    page = rows[:limit]
    files = [
        FileInfo(key=entry.key, size=entry.size, etag=entry.etag) for entry in page if entry.on_disk
    ]
    next_cursor = make_cursor("local", prefix, page[-1].key) if len(rows) > limit else None
    return FileList(source="local", prefix=prefix, files=files, next_cursor=next_cursor)
