"""A load's error report: its bad rows as JSON, published under a rule's ``errors_prefix``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from bucketsync.aws.s3 import put_object
from bucketsync.sinks.records.job import LoadReport

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


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


def publish(s3: S3Client, bucket: str, prefix: str, key: str, report: LoadReport) -> str:
    """Write the load's bad rows to ``s3://bucket/<prefix><key>.errors.json``; its key."""
    target = f"{prefix}{key}.errors.json"
    put_object(
        s3, bucket, target, error_report(bucket, key, report), content_type="application/json"
    )
    return target
