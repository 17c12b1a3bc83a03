"""Compare a bucket listing with a sink: the drift between them.

This is the comparison half of reconcile (one ``equal()`` policy, three outcomes, as rclone's
march has SrcOnly / DstOnly / Match); repairing drift builds on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import translate

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# What a listing tells about an object, and so what both sides are compared on.
Fingerprint = tuple[int | None, str | None]  # (size, etag)


@dataclass(frozen=True)
class Drift:
    missing: list[str] = field(default_factory=list)  # in the bucket, not in the sink
    extra: list[str] = field(default_factory=list)  # in the sink, not in the bucket
    different: list[str] = field(default_factory=list)  # in both, size or etag differ

    @property
    def in_sync(self) -> bool:
        return not (self.missing or self.extra or self.different)


def equal(bucket: Fingerprint, sink: Fingerprint) -> bool:
    return bucket == sink


def compare(bucket: Mapping[str, Fingerprint], sink: Mapping[str, Fingerprint]) -> Drift:
    missing, extra, different = [], [], []
    for key in sorted(bucket.keys() | sink.keys()):
        if key not in sink:
            missing.append(key)
        elif key not in bucket:
            extra.append(key)
        elif not equal(bucket[key], sink[key]):
            different.append(key)
    return Drift(missing, extra, different)


def list_bucket(s3: S3Client, bucket: str, prefix: str = "") -> Iterator[tuple[str, Fingerprint]]:
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"], (obj.get("Size"), str(obj.get("ETag", "")).strip('"') or None)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"ListObjectsV2 s3://{bucket}/{prefix}") from exc


def catalog_fingerprints(items: Iterator[dict[str, Any]]) -> dict[str, Fingerprint]:
    return {item["object_key"]: (item.get("size"), item.get("etag")) for item in items}
