"""A bucket and a sink as two maps, compared whole: the check the demo and the tests make.

The same ``equal`` policy as the march (``reconcile.march.equal``), for callers that hold
both sides in memory; ``reconcile`` itself walks listings and never builds these maps.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bucketsync.engine.state import Held
from bucketsync.reconcile.listing import Listed, S3Listing
from bucketsync.reconcile.march import equal

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


def compare(bucket: Mapping[str, Fingerprint], sink: Mapping[str, Fingerprint]) -> Drift:
    missing, extra, different = [], [], []
    for key in sorted(bucket.keys() | sink.keys()):
        if key not in sink:
            missing.append(key)
        elif key not in bucket:
            extra.append(key)
        else:
            size, etag = bucket[key]
            held_size, held_etag = sink[key]
            if not equal(Listed(key, size, etag), Held(key, "", True, held_size, held_etag)):
                different.append(key)
    return Drift(missing, extra, different)


def list_bucket(s3: S3Client, bucket: str, prefix: str = "") -> Iterator[tuple[str, Fingerprint]]:
    for listed in S3Listing(s3, bucket, prefix).range("", None):
        yield listed.key, (listed.size, listed.etag)


def catalog_fingerprints(items: Iterator[dict[str, Any]]) -> dict[str, Fingerprint]:
    return {item["object_key"]: (item.get("size"), item.get("etag")) for item in items}
