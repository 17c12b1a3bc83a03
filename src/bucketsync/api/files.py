"""Listing the bucket and the mirror page by page, and finding a mirrored file to serve.

Both listings page the same way: the cursor is the last key of the previous page, given to
S3 as ``StartAfter`` and to the mirror's store as ``after``. Any string is a valid cursor (a
stale or made-up one just starts the listing after it), so there is no cursor to reject.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.api.errors import NotFoundError
from bucketsync.api.models import FileInfo, FileList
from bucketsync.aws.errors import translate
from bucketsync.sinks.mirror.paths import UnsafeKeyError, local_path
from bucketsync.sinks.mirror.store import MirrorStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Characters outside XML 1.0's Char production, and CR (XML parsers turn it into LF).
_NOT_XML = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def list_bucket_page(
    s3: S3Client, bucket: str, prefix: str, *, limit: int, cursor: str | None
) -> FileList:
    """One page of ``ListObjectsV2`` under ``prefix``, of the keys after ``cursor``."""
    request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": limit}
    if cursor:
        # S3 echoes StartAfter in its XML answer, and XML 1.0 cannot carry most control
        # characters (the emulator fails on them; keys may hold them). So S3 starts after the
        # longest prefix of the cursor it can carry, the keys up to the cursor are skipped
        # here, and S3's own continuation tokens lead on from there.
        start = _NOT_XML.split(cursor, maxsplit=1)[0]
        if start:
            request["StartAfter"] = start
    files: list[FileInfo] = []
    while True:
        answer = _list(s3, request)
        items = answer.get("Contents", [])
        for index, item in enumerate(items):
            if cursor and item["Key"] <= cursor:
                continue
            files.append(_file_info(item))
            if len(files) == limit:
                more = index + 1 < len(items) or bool(answer.get("IsTruncated"))
                return _page(prefix, files, more)
        token = answer.get("NextContinuationToken")
        if not (answer.get("IsTruncated") and token):
            return _page(prefix, files, more=False)
        request = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": limit, "ContinuationToken": token}


def _list(s3: S3Client, request: dict[str, Any]) -> Any:
    try:
        return s3.list_objects_v2(**request)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"ListObjectsV2 s3://{request['Bucket']}/{request['Prefix']}") from exc


def _file_info(item: Any) -> FileInfo:
    return FileInfo(
        key=item["Key"],
        size=item.get("Size"),
        etag=item.get("ETag", "").strip('"') or None,
        last_modified=item.get("LastModified"),
    )


def _page(prefix: str, files: list[FileInfo], more: bool) -> FileList:
    next_cursor = files[-1].key if more and files else None
    return FileList(source="s3", prefix=prefix, files=files, next_cursor=next_cursor)


def list_mirror_page(
    store: MirrorStore, prefix: str, *, limit: int, cursor: str | None
) -> FileList:
    """One page of the files the mirror holds on disk under ``prefix``, after ``cursor``.

    Keys the mirror knows but keeps no file for (too large, refused) are left out, so a page
    may hold fewer than ``limit`` files: only a null ``next_cursor`` means the end.
    """
    # One row more than the page tells whether another page follows, without a count.
    rows = store.entries(prefix, after=cursor, limit=limit + 1)
    page = rows[:limit]
    files = [
        FileInfo(key=entry.key, size=entry.size, etag=entry.etag) for entry in page if entry.on_disk
    ]
    next_cursor = page[-1].key if len(rows) > limit else None
    return FileList(source="local", prefix=prefix, files=files, next_cursor=next_cursor)


def mirrored_file(root: Path, store: MirrorStore, key: str) -> Path:
    """The file the mirror holds for ``key``: ``UnsafeKeyError`` or ``NotFoundError`` if none.

    ``local_path`` already maps every key inside ``root`` and refuses symbolic links; the
    resolved path is checked against the resolved root once more, so that a mistake in that
    mapping can at worst refuse a download, never serve a file from elsewhere.
    """
    path = local_path(root, key)
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(real_root) or real == real_root:
        raise UnsafeKeyError(key, "resolves outside the mirror")
    entry = store.get(key)
    if entry is None or not entry.on_disk:
        raise NotFoundError(f"the mirror holds no file for {key!r}")
    if not real.is_file():
        raise NotFoundError(f"the mirror's file for {key!r} is missing from disk")
    return real
