"""Splitting a bucket's key space into ranges that can be marched at once.

One ``ListObjectsV2`` with a delimiter finds the prefix's common prefixes ("folders"); when
there are enough, ranges end at chosen ones. Otherwise the space under the deepest common
prefix is cut by its next character, at points spread over digits and letters. Ranges need
not be even: the marchers take them as they come, so a big range only keeps one busy longer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bucketsync.aws.s3 import list_page
from bucketsync.errors import BucketSyncError, ListingError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class Shard:
    """The keys ``after < key <= upto`` (``upto`` None: to the end)."""

    after: str = ""
    upto: str | None = None

    @property
    def id(self) -> str:
        """A name that gives the shard back (``from_id``): checkpoints are kept under it."""
        return json.dumps([self.after, self.upto], ensure_ascii=False)

    @classmethod
    def from_id(cls, shard_id: str) -> Shard:
        after, upto = json.loads(shard_id)
        return cls(str(after), None if upto is None else str(upto))


def from_boundaries(boundaries: list[str]) -> list[Shard]:
    """Ranges ``(b[i-1], b[i]]`` over the sorted, distinct ``boundaries``, ends open."""
    points = sorted(set(b for b in boundaries if b))
    shards, after = [], ""
    for point in points:
        shards.append(Shard(after, point))
        after = point
    shards.append(Shard(after, None))
    return shards


def spread(items: list[str], count: int) -> list[str]:
    """``count`` items picked evenly from ``items`` (all of them if there are fewer)."""
    if count >= len(items):
        return list(items)
    step = len(items) / (count + 1)
    return [items[int(step * (n + 1))] for n in range(count)]


def plan(s3: S3Client, bucket: str, prefix: str, wanted: int) -> list[Shard]:
    """About ``wanted`` ranges covering ``prefix`` (one if it is small or cannot be split)."""
    if wanted <= 1:
        return [Shard()]
    try:
        page = list_page(s3, Bucket=bucket, Prefix=prefix, Delimiter="/", MaxKeys=1000)
    except BucketSyncError as exc:
        raise ListingError(str(exc)) from exc
    folders = [entry["Prefix"] for entry in page.get("CommonPrefixes", [])]
    if len(folders) + 1 >= wanted:
        return from_boundaries(spread(folders, wanted - 1))
    if not page.get("IsTruncated") and len(page.get("Contents", [])) < 1000 and not folders:
        return [Shard()]  # one page holds everything: nothing to split
    base = folders[0] if len(folders) == 1 and not page.get("Contents") else prefix
    return from_boundaries([base + c for c in spread(list(ALPHABET), wanted - 1)])
