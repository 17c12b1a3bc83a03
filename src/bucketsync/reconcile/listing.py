"""The bucket's side of reconcile: its objects in key order, each stamped with the moment the
page that listed it was requested (``engine.ordering``: a repair's stamp).

A ``Range`` is one key range of one listing, ``(after, upto]``: it yields ``Listed`` objects
and, once exhausted, ``end_stamp``, the stamp that proves keys after the last one absent (the
last page's). ``ListObjectsV2`` lists current versions only, so in a versioned bucket a delete
marker is an absent key, as in the current view. A failed or inconsistent page raises
``ListingError``: the march stops there and the run deletes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bucketsync.aws.s3 import list_page
from bucketsync.engine.stamp import ObservationClock
from bucketsync.engine.state import ObjectState
from bucketsync.errors import BucketSyncError, ListingError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Listed:
    """One object as a listing (or inventory report) describes it."""

    key: str
    size: int | None
    etag: str | None
    last_modified: datetime | None = None
    storage_class: str | None = None
    stamp: str = ""  # O-stamp: when the page that listed it was requested

    def state(self) -> ObjectState:
        return ObjectState(
            present=True,
            size=self.size,
            etag=self.etag,
            last_modified=self.last_modified,
            storage_class=self.storage_class,
            is_multipart=None if self.etag is None else "-" in self.etag,
        )


class Range(Protocol):
    """One key range of a listing: iterate it, then read ``end_stamp``."""

    @property
    def end_stamp(self) -> str: ...

    def __iter__(self) -> Iterator[Listed]: ...


class Source(Protocol):
    """Where reconcile learns what the bucket holds: a listing, or an inventory report."""

    origin: str  # the repairs' origin: "listing" or "inventory"
    bucket: str
    prefix: str

    def range(self, after: str, upto: str | None) -> Range: ...


def in_range(key: str, after: str, upto: str | None) -> bool:
    return key > after and (upto is None or key <= upto)


class S3Listing:
    """ListObjectsV2 over ``bucket``/``prefix``, a page of ``page_size`` keys at a time."""

    origin = "listing"

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        prefix: str = "",
        *,
        clock: ObservationClock | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.clock = clock or ObservationClock()
        self.page_size = page_size

    def range(self, after: str, upto: str | None) -> _S3Range:
        return _S3Range(self, after, upto)


class _S3Range:
    def __init__(self, listing: S3Listing, after: str, upto: str | None) -> None:
        self._listing = listing
        self._after = after
        self._upto = upto
        self.end_stamp = ""
        self.pages = 0

    def __iter__(self) -> Iterator[Listed]:
        listing = self._listing
        where = f"s3://{listing.bucket}/{listing.prefix}"
        request: dict[str, Any] = {
            "Bucket": listing.bucket,
            "Prefix": listing.prefix,
            "MaxKeys": listing.page_size,
        }
        if self._after > listing.prefix:
            request["StartAfter"] = self._after
        while True:
            stamp = listing.clock.stamp()  # before the request: see engine.ordering
            try:
                page = list_page(listing.s3, **request)
            except BucketSyncError as exc:
                raise ListingError(str(exc)) from exc
            self.pages += 1
            self.end_stamp = stamp
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if self._upto is not None and key > self._upto:
                    return
                if key <= self._after:
                    continue
                etag = str(obj.get("ETag", "")).strip('"') or None
                yield Listed(
                    key,
                    obj.get("Size"),
                    etag,
                    obj.get("LastModified"),
                    obj.get("StorageClass"),
                    stamp,
                )
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated"):
                return
            if not token:
                raise ListingError(f"ListObjectsV2 {where}: a truncated page with no next token")
            request["ContinuationToken"] = token
            request.pop("StartAfter", None)
