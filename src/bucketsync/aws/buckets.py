"""Buckets as deploy and destroy see them: there or not, empty or not, made, emptied, removed.

The artifacts bucket holding the function's zip is made private (public access blocked,
SSE-S3, owner-enforced) because a deployment package is code: whoever can replace it runs as
the function's role.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import error_code, http_status, translate
from bucketsync.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient

DELETE_BATCH = 1000  # DeleteObjects' limit


def account_id(sts: STSClient) -> str:
    try:
        return str(sts.get_caller_identity()["Account"])
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, "GetCallerIdentity") from exc


def exists(s3: S3Client, bucket: str) -> bool:
    """True when the bucket is there and ours to use (a 403 is someone else's: an error)."""
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if http_status(exc) == 404 or error_code(exc) in ("404", "NoSuchBucket"):
            return False
        raise translate(exc, f"HeadBucket {bucket}") from exc
    except BotoCoreError as exc:
        raise translate(exc, f"HeadBucket {bucket}") from exc
    return True


def holds_objects(s3: S3Client, bucket: str, prefix: str = "") -> bool:
    """One ListObjectsV2 of one key: does anything sit under ``prefix``?"""
    try:
        answer = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"ListObjectsV2 s3://{bucket}/{prefix}") from exc
    return bool(answer.get("KeyCount") or answer.get("Contents"))


def make_private(s3: S3Client, bucket: str, region: str) -> None:
    """Create ``bucket`` private and encrypted; one that is already ours is left as it is."""
    request: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":  # us-east-1 refuses a LocationConstraint naming itself
        request["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**request)
    except ClientError as exc:
        if error_code(exc) == "BucketAlreadyOwnedByYou":
            return
        raise translate(exc, f"CreateBucket {bucket}") from exc
    except BotoCoreError as exc:
        raise translate(exc, f"CreateBucket {bucket}") from exc
    try:
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"securing bucket {bucket}") from exc


def upload(s3: S3Client, bucket: str, key: str, path: Path) -> bool:
    """Upload ``path`` unless an object of that key and size is there (keys name contents)."""
    size = path.stat().st_size
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        if int(head.get("ContentLength", -1)) == size:
            return False
    except ClientError as exc:
        if http_status(exc) != 404 and error_code(exc) not in ("404", "NoSuchKey"):
            raise translate(exc, f"HeadObject s3://{bucket}/{key}") from exc
    except BotoCoreError as exc:
        raise translate(exc, f"HeadObject s3://{bucket}/{key}") from exc
    try:
        with path.open("rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"PutObject s3://{bucket}/{key}") from exc
    return True


def put_text(s3: S3Client, bucket: str, key: str, text: str) -> None:
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"PutObject s3://{bucket}/{key}") from exc


def delete_prefix(s3: S3Client, bucket: str, prefix: str) -> int:
    """Delete every version and delete marker under ``prefix``; how many went."""
    deleted = 0
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            entries = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for kind in ("Versions", "DeleteMarkers")
                for v in page.get(kind, [])  # type: ignore[attr-defined]
            ]
            for start in range(0, len(entries), DELETE_BATCH):
                chunk = entries[start : start + DELETE_BATCH]
                answer = s3.delete_objects(
                    Bucket=bucket,
                    Delete={"Objects": chunk, "Quiet": True},  # type: ignore[typeddict-item]
                )
                errors = answer.get("Errors", [])
                if errors:
                    first = errors[0]
                    raise ConfigurationError(
                        f"DeleteObjects s3://{bucket}/{first.get('Key', '')}: "
                        f"{first.get('Code', '')}: {first.get('Message', '')} "
                        f"({len(errors)} not deleted)"
                    )
                deleted += len(chunk)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"emptying s3://{bucket}/{prefix}") from exc
    return deleted


def remove(s3: S3Client, bucket: str) -> None:
    """Delete an empty bucket; one already gone is fine."""
    try:
        s3.delete_bucket(Bucket=bucket)
    except ClientError as exc:
        if http_status(exc) == 404 or error_code(exc) == "NoSuchBucket":
            return
        raise translate(exc, f"DeleteBucket {bucket}") from exc
    except BotoCoreError as exc:
        raise translate(exc, f"DeleteBucket {bucket}") from exc
