"""GetObject by presigned URL (``bucketsync.aws.presigned``) against the emulator, over HTTP.

The fast path must answer exactly what ``get_object`` answers, and hand every other case
(errors, transport failures) to ``get_object`` itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import ClientError, EndpointConnectionError

from bucketsync.aws.clients import Clients
from bucketsync.aws.presigned import Got, ObjectGetter
from bucketsync.aws.request_counter import RequestCounter
from bucketsync.local.stack import StackNames


@pytest.fixture
def bucket(clients: Clients, names: StackNames) -> Iterator[str]:
    clients.s3.create_bucket(Bucket=names.bucket)
    yield names.bucket
    for page in clients.s3.get_paginator("list_objects_v2").paginate(Bucket=names.bucket):
        for obj in page.get("Contents", []):
            clients.s3.delete_object(Bucket=names.bucket, Key=obj["Key"])
    clients.s3.delete_bucket(Bucket=names.bucket)


@pytest.fixture
def sent(clients: Clients) -> list[AWSPreparedRequest]:
    """Every GetObject request the client sends from now on (``before-send``)."""
    requests: list[AWSPreparedRequest] = []

    def seen(request: AWSPreparedRequest, **_: Any) -> None:
        requests.append(request)

    clients.s3.meta.events.register("before-send.s3.GetObject", seen)
    return requests


def fields(got: Got) -> dict[str, Any]:
    try:
        data = got.body.read()
    finally:
        got.body.close()
    return {
        "data": data,
        "length": got.length,
        "etag": got.etag,
        "last_modified": got.last_modified,
        "encryption": got.encryption,
        "customer_key": got.customer_key,
        "checksums": got.checksums,
    }


@pytest.mark.parametrize(
    "extra",
    [{}, {"ChecksumAlgorithm": "SHA256"}, {"ServerSideEncryption": "AES256"}],
    ids=["plain", "sha256", "sse-s3"],
)
def test_it_answers_what_get_object_answers(
    clients: Clients, bucket: str, sent: list[AWSPreparedRequest], extra: dict[str, Any]
) -> None:
    key = "dir/a key with spaces, ü and %.bin"
    clients.s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 70_000, **extra)
    etag = clients.s3.head_object(Bucket=bucket, Key=key)["ETag"]
    getter = ObjectGetter(clients.s3)

    fast = fields(getter.get(bucket, key, if_match=etag))
    answer = clients.s3.get_object(Bucket=bucket, Key=key, IfMatch=etag, ChecksumMode="ENABLED")
    slow = fields(Got.from_answer(answer, getter.algorithms))

    assert fast == slow
    assert fast["data"] == b"x" * 70_000
    assert fast["etag"] == hashlib.md5(b"x" * 70_000).hexdigest()
    assert fast["last_modified"] is not None and fast["last_modified"].tzinfo is not None
    # the fast one went by a SigV4 presigned URL carrying (and signing) the If-Match header
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in sent[0].url
    assert sent[0].headers["If-Match"] == etag
    assert "X-Amz-Signature" not in sent[1].url  # get_object signs in headers


def test_the_checksum_s3_sent_is_named_and_checked(clients: Clients, bucket: str) -> None:
    clients.s3.put_object(Bucket=bucket, Key="k", Body=b"payload", ChecksumAlgorithm="SHA256")
    got = ObjectGetter(clients.s3).get(bucket, "k")
    assert got.checksums == ("SHA256",)
    assert type(got.body).__name__ == "StreamingChecksumBody"  # botocore's own check
    assert fields(got)["data"] == b"payload"
    unchecked = ObjectGetter(clients.s3).get(bucket, "k", checksum=False)
    assert unchecked.checksums == ()
    assert type(unchecked.body).__name__ == "StreamingBody"
    unchecked.body.close()


def test_a_failed_precondition_is_asked_again_through_get_object(
    clients: Clients, bucket: str, sent: list[AWSPreparedRequest]
) -> None:
    clients.s3.put_object(Bucket=bucket, Key="k", Body=b"new")
    with pytest.raises(ClientError) as caught:
        ObjectGetter(clients.s3).get(bucket, "k", if_match='"0123456789abcdef0123456789abcdef"')
    # botocore's own parsing of the error: the code the mirror treats as "changed since"
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    assert ["X-Amz-Signature" in request.url for request in sent] == [True, False]


def test_a_missing_key_raises_no_such_key(clients: Clients, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        ObjectGetter(clients.s3).get(bucket, "nothing here")
    assert caught.value.response["Error"]["Code"] == "NoSuchKey"


def test_a_transport_error_is_asked_again_through_get_object(clients: Clients, bucket: str) -> None:
    clients.s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    getter = ObjectGetter(clients.s3)
    failures: list[str] = []

    class Refusing:
        def send(self, request: AWSPreparedRequest) -> None:
            failures.append(request.url)
            raise EndpointConnectionError(endpoint_url=request.url)

    getter._http = Refusing()  # what a reset connection does to the fast path
    assert fields(getter.get(bucket, "k"))["data"] == b"data"
    assert len(failures) == 1


def test_each_get_is_one_counted_request(settings: Any, bucket: str) -> None:
    counter = RequestCounter()
    counted = Clients(settings, counter)
    counted.s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    getter = ObjectGetter(counted.s3)
    counter.reset()
    for _ in range(3):
        fields(getter.get(bucket, "k"))
    # presigning makes no request; the GETs are seen by the client's hooks like its own
    assert counter.snapshot() == {"s3.GetObject": 3}
