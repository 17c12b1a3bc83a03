"""S3 objects through boto3: their current state (HeadObject, and optional extras), their bodies
whole, in chunks or from a byte range, listings, puts and the bucket's notifications; botocore's
errors translated here (``aws.errors``), so callers see only bucketsync's.
"""

from __future__ import annotations

import codecs
import dataclasses
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import error_code, http_status, is_gone, translate
from bucketsync.engine.state import ABSENT, ObjectState

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_TEXT_TYPES = ("text/", "application/json", "application/x-ndjson", "application/xml")
_CHECKSUMS = ("CRC64NVME", "CRC32C", "CRC32", "SHA256", "SHA1")


def _is_text(content_type: str | None) -> bool:
    return bool(content_type) and str(content_type).startswith(_TEXT_TYPES)


class S3ObjectSource:
    """``ObjectSource`` over boto3. A missing key (404, or a delete marker) is ``ABSENT``."""

    def __init__(self, s3: S3Client, *, tags: bool = False, preview_chars: int = 0) -> None:
        self._s3 = s3
        self._tags = tags
        self._preview_chars = preview_chars

    def lookup(self, bucket: str, key: str) -> ObjectState:
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            # HeadObject has no body, so a missing key is only a status; without
            # s3:ListBucket AWS answers 403 instead, which translate() reports as a config error.
            if http_status(exc) == 404 or is_gone(exc):
                return ABSENT
            raise translate(exc, f"HeadObject s3://{bucket}/{key}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"HeadObject s3://{bucket}/{key}") from exc
        state = state_from_head(head)
        extras: dict[str, Any] = {}
        if self._tags:
            extras["tags"] = self._get_tags(bucket, key, state.version_id)
        if self._preview_chars and _is_text(state.content_type) and state.size:
            extras["preview"] = self._get_preview(bucket, key, state)
        if not extras:
            return state
        return dataclasses.replace(state, **extras)

    def _get_tags(self, bucket: str, key: str, version_id: str | None) -> dict[str, str]:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            answer = self._s3.get_object_tagging(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"GetObjectTagging s3://{bucket}/{key}") from exc
        return {t["Key"]: t["Value"] for t in answer.get("TagSet", [])}

    def _get_preview(self, bucket: str, key: str, state: ObjectState) -> str:
        # UTF-8 needs at most 4 bytes a character; IfMatch keeps the preview from a newer object.
        kwargs: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "Range": f"bytes=0-{self._preview_chars * 4 - 1}",
        }
        if state.version_id:
            kwargs["VersionId"] = state.version_id
        elif state.etag:
            kwargs["IfMatch"] = f'"{state.etag}"'
        try:
            body = self._s3.get_object(**kwargs)["Body"]
            raw = body.read()
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"GetObject s3://{bucket}/{key}") from exc
        text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(raw, final=False)
        return text[: self._preview_chars]


def state_from_head(head: Any) -> ObjectState:
    etag = str(head.get("ETag", "")).strip('"') or None
    checksum = next((name for name in _CHECKSUMS if head.get(f"Checksum{name}")), None)
    return ObjectState(
        present=True,
        size=head.get("ContentLength"),
        etag=etag,
        content_type=head.get("ContentType"),
        last_modified=head.get("LastModified"),
        version_id=head.get("VersionId"),
        storage_class=head.get("StorageClass", "STANDARD"),
        is_multipart=None if etag is None else "-" in etag,
        encryption=head.get("ServerSideEncryption"),
        kms_key_id=head.get("SSEKMSKeyId"),
        checksum_algorithm=checksum,
        metadata=dict(head.get("Metadata") or {}),
    )


def list_page(s3: S3Client, **request: Any) -> Any:
    """One ListObjectsV2 page; botocore's errors translated (keys arrive decoded)."""
    where = f"s3://{request.get('Bucket')}/{request.get('Prefix', '')}"
    try:
        return s3.list_objects_v2(**request)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"ListObjectsV2 {where}") from exc


# What S3 answers for a continuation token it does not take (expired, another bucket's).
_BAD_TOKEN = frozenset({"InvalidArgument", "InvalidToken", "InvalidContinuationToken"})


def resume_page(
    s3: S3Client, bucket: str, prefix: str, *, limit: int, token: str | None
) -> Any | None:
    """One ListObjectsV2 page of at most ``limit`` keys, resuming at S3's ``token``; None when
    S3 no longer takes that token (the caller's cursor is stale), other errors translated."""
    request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": limit}
    if token is not None:
        request["ContinuationToken"] = token
    try:
        return s3.list_objects_v2(**request)
    except ClientError as exc:
        if error_code(exc) in _BAD_TOKEN:
            return None
        raise translate(exc, f"ListObjectsV2 s3://{bucket}/{prefix}") from exc
    except BotoCoreError as exc:
        raise translate(exc, f"ListObjectsV2 s3://{bucket}/{prefix}") from exc


@dataclasses.dataclass(frozen=True)
class ProbeAnswer:
    """What S3 answered one probe: taken (``refused`` False), refused with ``code`` and HTTP
    ``status``, or no answer at all (``unreachable``: why, as botocore said it)."""

    refused: bool = False
    code: str = ""
    status: int = 0
    unreachable: str = ""


def probe_bucket(probe: S3Client, bucket: str | None) -> ProbeAnswer:
    """HeadBucket of ``bucket`` (ListBuckets without one), once: what S3 answered."""
    try:
        if bucket:
            probe.head_bucket(Bucket=bucket)
        else:
            probe.list_buckets()
    except ClientError as exc:
        return ProbeAnswer(refused=True, code=error_code(exc), status=http_status(exc))
    except BotoCoreError as exc:  # no answer at all: refused, timed out, bad endpoint
        return ProbeAnswer(unreachable=str(exc) or type(exc).__name__)
    return ProbeAnswer()


def read_object(s3: S3Client, bucket: str, key: str) -> bytes:
    """A small object's whole body (a manifest, a checksum); botocore's errors translated."""
    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"GetObject s3://{bucket}/{key}") from exc
    return body


def object_chunks(s3: S3Client, bucket: str, key: str, chunk: int) -> Iterator[bytes]:
    """An object's body, ``chunk`` bytes at a time; botocore's errors (while it streams too)
    translated."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        yield from body.iter_chunks(chunk)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"GetObject s3://{bucket}/{key}") from exc


@dataclasses.dataclass(frozen=True, slots=True)
class Opened:
    """An object's body (the caller closes it) and its Content-Encoding. ``ended``: the range
    asked for starts past the end of the object, so the body is empty."""

    body: Any
    encoding: str | None
    ended: bool = False


def open_object(
    s3: S3Client,
    bucket: str,
    key: str,
    *,
    etag: str | None = None,
    version_id: str | None = None,
    first: int = 0,
    last: int | None = None,
) -> Opened | None:
    """The body from byte ``first`` to ``last`` (the end for None) of the version
    ``version_id`` names, else of the content ``etag`` names (IfMatch), else of the current
    one; None if that version is gone (``aws.errors.is_gone``)."""
    request: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    elif etag:
        request["IfMatch"] = f'"{etag}"'  # the version the stamp names, or nothing
    if first or last is not None:
        request["Range"] = f"bytes={first}-{'' if last is None else last}"
    try:
        answer = s3.get_object(**request)
    except ClientError as exc:
        if is_gone(exc):
            return None
        if first and error_code(exc) in {"InvalidRange", "416"}:
            return Opened(io.BytesIO(), None, ended=True)
        raise translate(exc, f"GetObject s3://{bucket}/{key}") from exc
    except BotoCoreError as exc:
        raise translate(exc, f"GetObject s3://{bucket}/{key}") from exc
    return Opened(answer["Body"], answer.get("ContentEncoding"))


def put_object(s3: S3Client, bucket: str, key: str, body: bytes, *, content_type: str) -> None:
    """A small object (a report) written whole; botocore's errors translated."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"PutObject s3://{bucket}/{key}") from exc


def notification_configuration(s3: S3Client, bucket: str) -> dict[str, Any]:
    """The bucket's whole notification configuration (response fields left out)."""
    try:
        answer = dict(s3.get_bucket_notification_configuration(Bucket=bucket))
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"GetBucketNotificationConfiguration {bucket}") from exc
    answer.pop("ResponseMetadata", None)
    return answer


def put_notification_configuration(s3: S3Client, bucket: str, config: dict[str, Any]) -> None:
    """Replace the bucket's whole notification configuration with ``config``."""
    try:
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration=config,  # type: ignore[arg-type]
        )
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"PutBucketNotificationConfiguration {bucket}") from exc
