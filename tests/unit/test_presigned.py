"""Presigning for ``bucketsync.aws.presigned``: no request is made here."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.config import Config

from bucketsync.aws.presigned import Got, ObjectGetter

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def client(signature_version: str | None = None) -> S3Client:
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        aws_session_token="token",
        region_name="eu-west-1",
    )
    return session.client("s3", config=Config(signature_version=signature_version))


def presigned_query(s3: S3Client) -> dict[str, list[str]]:
    url = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": "bkt", "Key": "a/b", "IfMatch": '"e"', "ChecksumMode": "ENABLED"},
    )
    return parse_qs(urlsplit(url).query)


def test_botocore_alone_would_presign_get_object_with_sigv2() -> None:
    # The control: without the getter's hook an unconfigured client falls back to SigV2,
    # which cannot sign If-Match and which newer regions refuse.
    assert "Signature" in presigned_query(client())


def test_the_getter_makes_its_client_presign_get_object_with_sigv4() -> None:
    s3 = client()
    ObjectGetter(s3)
    query = presigned_query(s3)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-SignedHeaders"] == ["host;if-match;x-amz-checksum-mode"]
    assert query["X-Amz-Security-Token"] == ["token"]
    assert query["X-Amz-Credential"][0].endswith("/eu-west-1/s3/aws4_request")


def test_a_client_that_names_sigv4_is_left_as_it_is() -> None:
    s3 = client(signature_version="s3v4")
    ObjectGetter(s3)
    assert presigned_query(s3)["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


def test_other_operations_keep_botocore_s_choice() -> None:
    s3 = client()
    ObjectGetter(s3)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "bkt", "Key": "a"})
    assert "Signature=" in url and "X-Amz-Algorithm" not in url


def test_get_object_s_answer_names_only_the_checksums_botocore_checked() -> None:
    # A checksum this botocore cannot check (CRC64NVME without awscrt), or any without
    # ChecksumMode, or a composite one, is no check: the mirror must then compare the MD5.
    answer = {
        "Body": None,
        "ETag": '"abc"',
        "ChecksumCRC64NVME": "AAAAAAAAAAA=",
        "ChecksumCRC32": "AAAAAA==",
        "ChecksumSHA256": "AAAA-3",
    }
    assert Got.from_answer(answer, ["crc32", "sha256"]).checksums == ("CRC32",)
    assert Got.from_answer(answer, ["sha256"]).checksums == ()
    assert Got.from_answer(answer, []).checksums == ()
    assert Got.from_answer(answer, []).etag == "abc"
