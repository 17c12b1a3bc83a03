"""The health probes: can S3 be reached, does the bucket exist, may we read it; does the mirror
directory take a file. Each problem is named apart, because each has another fix: a network
or endpoint (unreachable), a setting (no such bucket), a policy (access denied)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bucketsync.api.models import S3Status
from bucketsync.aws.errors import RETRYABLE_CODES
from bucketsync.aws.s3 import probe_bucket
from bucketsync.sinks.mirror import TEMP_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NOT_FOUND_CODES = frozenset({"NoSuchBucket", "404", "NotFound"})
DENIED_CODES = frozenset(
    {"AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
)


@dataclass(frozen=True)
class S3Check:
    status: S3Status
    message: str  # "" when ok

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def check_s3(probe: S3Client, bucket: str | None) -> S3Check:
    """HeadBucket of ``bucket`` (ListBuckets without one), once, and what its answer means."""
    action = "HeadBucket" if bucket else "ListBuckets"
    answer = probe_bucket(probe, bucket)
    if answer.unreachable:
        return S3Check("unreachable", f"S3 is not reachable ({action}): {answer.unreachable}")
    if answer.refused:
        return _answered(answer.code, answer.status, action, bucket)
    return S3Check("ok", "")


def _answered(code: str, status: int, action: str, bucket: str | None) -> S3Check:
    where = f"s3://{bucket}" if bucket else "the account's buckets"
    if code in NOT_FOUND_CODES or status == 404:
        return S3Check(
            "no_such_bucket",
            f"the bucket {bucket} does not exist (or not in this region/endpoint): check "
            "BUCKETSYNC_BUCKET",
        )
    if code in DENIED_CODES or status == 403:
        return S3Check(
            "access_denied",
            f"S3 answered access denied for {where} ({action}): the credentials may not read "
            "it; check the IAM policy and the bucket policy",
        )
    if code in RETRYABLE_CODES or status >= 500 or status == 429:
        return S3Check("unreachable", f"S3 is not reachable ({action}): {code or status}")
    return S3Check("error", f"S3 refused {action} on {where}: {code or status}")


def check_directory(root: Path) -> str:
    """Why the mirror directory cannot take a new file, or ""."""
    try:
        # The mirror's own temporary-file prefix: a full sync never counts it as a user's.
        handle, name = tempfile.mkstemp(dir=root, prefix=TEMP_PREFIX + "health-")
        os.close(handle)
        os.unlink(name)
    except OSError as exc:
        return f"the mirror directory {root} is not writable: {exc.strerror or exc}"
    return ""
