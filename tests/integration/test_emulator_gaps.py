"""What moto 5.2.5 (the emulator) really does where it differs from AWS, or where we rely on it.

The engine is written knowing these behaviours. Each test's docstring names the GAP it pins:
when moto changes and a test here fails, the gap it names is what to revisit in the engine
(ordering without sequencers, delete-marker handling, test-event skipping...).

moto delivers notifications synchronously: the message is in the queue when the S3 call
returns (pinned by the PutObject test). So "no message" is checked with an immediate receive,
not a long poll, and the whole module runs in about a second.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote_plus

import pytest
from botocore.exceptions import ClientError

from bucketsync.aws.clients import Clients
from bucketsync.local.stack import NOTIFICATION_ID, Stack, StackNames, ensure_stack

KEY = "dir/sub dir/a+b.txt"
BODY = b"hello, emulator\n"
BODY_MD5 = hashlib.md5(BODY).hexdigest()


def _receive(clients: Clients, queue_url: str) -> list[dict[str, Any]]:
    """Every message in the queue now, deleted as read; no long poll (delivery is synchronous)."""
    bodies: list[dict[str, Any]] = []
    while True:
        batch = clients.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            return bodies
        for message in batch:
            bodies.append(json.loads(message["Body"]))
            clients.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _events(clients: Clients, queue_url: str) -> list[dict[str, Any]]:
    """The S3 event records now in the queue, one per message (asserted)."""
    records = []
    for body in _receive(clients, queue_url):
        assert set(body) == {"Records"}, body
        (record,) = body["Records"]
        records.append(record)
    return records


def _skip_test_event(clients: Clients, stack: Stack) -> None:
    bodies = _receive(clients, stack.queue_url)
    assert [b.get("Event") for b in bodies] == ["s3:TestEvent"], bodies


@pytest.fixture
def quiet_stack(clients: Clients, stack: Stack) -> Stack:
    """The unversioned stack with the setup's s3:TestEvent already taken off the queue."""
    _skip_test_event(clients, stack)
    return stack


@pytest.fixture
def versioned_stack(clients: Clients, names: StackNames, stack: Stack) -> Stack:
    """The same stack with versioning enabled, its queue empty."""
    versioned = ensure_stack(clients, names, versioned=True)
    _skip_test_event(clients, versioned)
    return versioned


def test_put_object_notification_has_no_sequencer_version_or_identity(
    clients: Clients, quiet_stack: Stack
) -> None:
    """GAP (no sequencer): moto's ObjectCreated:Put record has no ``sequencer``, no
    ``versionId``, no ``userIdentity``/``requestParameters``/``responseElements``, so the engine
    must order by observation (HeadObject), not by sequencer. The key is ``quote_plus``-encoded
    (``/`` as ``%2F``, where AWS leaves ``/``), the eTag has no quotes, and the message is in
    the queue by the time PutObject returns (delivery is synchronous, unlike AWS).

    GIVEN the stack   WHEN PutObject "dir/sub dir/a+b.txt"   THEN exactly one such message.
    """
    clients.s3.put_object(Bucket=quiet_stack.bucket, Key=KEY, Body=BODY)

    (record,) = _events(clients, quiet_stack.queue_url)

    assert record["eventName"] == "ObjectCreated:Put"
    assert record["eventSource"] == "aws:s3"
    assert record["eventVersion"] == "2.1"
    assert record["awsRegion"] == "us-east-1"
    assert record["s3"]["configurationId"] == NOTIFICATION_ID
    assert record["s3"]["bucket"]["name"] == quiet_stack.bucket
    assert record["s3"]["object"] == {
        "key": quote_plus(KEY),
        "size": len(BODY),
        "eTag": BODY_MD5,
    }
    assert quote_plus(KEY) == "dir%2Fsub+dir%2Fa%2Bb.txt"
    for absent in ("userIdentity", "requestParameters", "responseElements"):
        assert absent not in record
    assert _events(clients, quiet_stack.queue_url) == []


def test_delete_object_on_unversioned_bucket_sends_object_removed_delete(
    clients: Clients, quiet_stack: Stack
) -> None:
    """GAP (delete payload): on an unversioned bucket DeleteObject sends ``ObjectRemoved:Delete``
    whose object carries the deleted object's size and eTag (AWS sends neither on deletes),
    and still no sequencer. Deleting a key that does not exist sends nothing.

    GIVEN an object   WHEN DeleteObject, then DeleteObject of a missing key   THEN one message.
    """
    clients.s3.put_object(Bucket=quiet_stack.bucket, Key=KEY, Body=BODY)
    _events(clients, quiet_stack.queue_url)

    clients.s3.delete_object(Bucket=quiet_stack.bucket, Key=KEY)
    clients.s3.delete_object(Bucket=quiet_stack.bucket, Key="never-existed")

    (record,) = _events(clients, quiet_stack.queue_url)
    assert record["eventName"] == "ObjectRemoved:Delete"
    assert record["s3"]["object"] == {"key": quote_plus(KEY), "size": len(BODY), "eTag": BODY_MD5}


def test_versioned_delete_marker_and_version_deletes_send_nothing(
    clients: Clients, versioned_stack: Stack
) -> None:
    """GAP (versioned deletes are silent): on a versioned bucket moto sends NO notification for
    a DeleteObject that creates a delete marker (AWS: ObjectRemoved:DeleteMarkerCreated), nor
    for deleting a version while others remain (AWS: ObjectRemoved:Delete). The engine cannot
    learn of these deletes from the emulator's events; only reconcile catches them.
    A versioned PutObject's record still carries no ``versionId``.

    GIVEN a versioned bucket with one object
    WHEN DeleteObject (creates a marker), then DeleteObject of the object's version
    THEN the Put sent one record without versionId, and the deletes sent nothing.
    """
    bucket = versioned_stack.bucket
    put = clients.s3.put_object(Bucket=bucket, Key=KEY, Body=BODY)
    (created,) = _events(clients, versioned_stack.queue_url)
    assert created["eventName"] == "ObjectCreated:Put"
    assert "versionId" not in created["s3"]["object"]
    assert "sequencer" not in created["s3"]["object"]

    marker = clients.s3.delete_object(Bucket=bucket, Key=KEY)
    assert marker["DeleteMarker"] is True
    assert _events(clients, versioned_stack.queue_url) == []

    clients.s3.delete_object(Bucket=bucket, Key=KEY, VersionId=put["VersionId"])
    assert _events(clients, versioned_stack.queue_url) == []


def test_versioned_delete_of_the_last_version_sends_object_removed_delete(
    clients: Clients, versioned_stack: Stack
) -> None:
    """GAP (versioned deletes): deleting the only version of a key by VersionId sends
    ``ObjectRemoved:Delete`` (as AWS does), again without versionId or sequencer.

    GIVEN a versioned bucket with one version of a key
    WHEN DeleteObject with that VersionId   THEN one ObjectRemoved:Delete record.
    """
    bucket = versioned_stack.bucket
    put = clients.s3.put_object(Bucket=bucket, Key=KEY, Body=BODY)
    _events(clients, versioned_stack.queue_url)

    clients.s3.delete_object(Bucket=bucket, Key=KEY, VersionId=put["VersionId"])

    (record,) = _events(clients, versioned_stack.queue_url)
    assert record["eventName"] == "ObjectRemoved:Delete"
    assert record["s3"]["object"]["key"] == quote_plus(KEY)
    assert "versionId" not in record["s3"]["object"]


def test_complete_multipart_upload_sends_put_then_complete(
    clients: Clients, quiet_stack: Stack
) -> None:
    """GAP (duplicate multipart events): CompleteMultipartUpload sends TWO messages, first
    ``ObjectCreated:Put`` then ``ObjectCreated:CompleteMultipartUpload`` (AWS sends only the
    second), both with the same size and the multipart eTag ``<md5>-<parts>``. The engine
    must treat them as one change (idempotent apply).

    GIVEN the stack   WHEN a two-part multipart upload completes   THEN those two messages.
    """
    bucket, key = quiet_stack.bucket, "big/multi part.bin"
    parts = [b"a" * 5 * 1024 * 1024, b"tail"]
    upload = clients.s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    assert _events(clients, quiet_stack.queue_url) == [], "CreateMultipartUpload is silent"
    etags = [
        clients.s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body
        )["ETag"]
        for number, body in enumerate(parts, start=1)
    ]
    assert _events(clients, quiet_stack.queue_url) == [], "UploadPart is silent"

    done = clients.s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload,
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]
        },
    )

    records = _events(clients, quiet_stack.queue_url)
    assert [r["eventName"] for r in records] == [
        "ObjectCreated:Put",
        "ObjectCreated:CompleteMultipartUpload",
    ]
    multipart_etag = done["ETag"].strip('"')
    expected: dict[str, Any] = {
        "key": quote_plus(key),
        "size": sum(map(len, parts)),
        "eTag": multipart_etag,
    }
    assert [r["s3"]["object"] for r in records] == [expected, expected]
    assert multipart_etag.endswith("-2")


def test_setting_notifications_sends_one_test_event(
    clients: Clients, names: StackNames, stack: Stack
) -> None:
    """GAP (s3:TestEvent): PutBucketNotificationConfiguration sends one message per
    destination queue whose body is exactly ``{"Service": "Amazon S3", "Event":
    "s3:TestEvent", "Time": ..., "Bucket": ...}``: no ``Records`` key, and (unlike AWS) no
    ``RequestId``/``HostId``. The engine must recognise it by ``Event`` and skip it.
    ensure_stack leaves it in the queue; running ensure_stack again sends no second one.

    GIVEN a fresh stack   WHEN its queue is read   THEN exactly that one test event.
    """
    ensure_stack(clients, names)

    (body,) = _receive(clients, stack.queue_url)

    assert set(body) == {"Service", "Event", "Time", "Bucket"}
    assert body["Service"] == "Amazon S3"
    assert body["Event"] == "s3:TestEvent"
    assert body["Bucket"] == names.bucket
    assert body["Time"].endswith("Z")


def test_transaction_with_one_failed_condition_reports_reasons_by_index(
    clients: Clients, names: StackNames, stack: Stack
) -> None:
    """GAP (transaction cancellation): TransactWriteItems with one failing ConditionExpression
    raises TransactionCanceledException whose response carries ``CancellationReasons``, one per
    action in order: ``{"Code": "ConditionalCheckFailed", "Message": ...}`` at the failing
    index and ``{"Code": "None"}`` elsewhere; nothing is written. moto never cancels for
    throttling or conflicts (unit tests inject those).

    GIVEN an existing item   WHEN a 3-put transaction conditions the middle put on its absence
    THEN cancelled, reasons [None, ConditionalCheckFailed, None], and no new item.
    """
    dynamodb, table = clients.dynamodb, names.table

    def item(sk: str) -> dict[str, Any]:
        return {"pk": {"S": "BUCKET#b"}, "sk": {"S": sk}}

    dynamodb.put_item(TableName=table, Item=item("KEY#exists"))
    absent = "attribute_not_exists(pk)"

    with pytest.raises(ClientError) as failure:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": item("KEY#new-1")}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": item("KEY#exists"),
                        "ConditionExpression": absent,
                    }
                },
                {
                    "Put": {
                        "TableName": table,
                        "Item": item("KEY#new-2"),
                        "ConditionExpression": absent,
                    }
                },
            ]
        )

    assert isinstance(failure.value, dynamodb.exceptions.TransactionCanceledException)
    assert failure.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = failure.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed", "None"]
    assert reasons[0] == {"Code": "None"} and reasons[2] == {"Code": "None"}
    assert "Message" in reasons[1]
    assert "ConditionalCheckFailed" in failure.value.response["Error"]["Message"]
    keys = dynamodb.scan(TableName=table)["Items"]
    assert [k["sk"]["S"] for k in keys] == ["KEY#exists"]


def test_batch_write_item_returns_no_unprocessed_items(
    clients: Clients, names: StackNames, stack: Stack
) -> None:
    """GAP (no partial batches): BatchWriteItem of 25 puts (the maximum) returns an empty
    ``UnprocessedItems`` and writes all 25; moto never throttles part of a batch, so the
    retry-unprocessed path is only exercised by unit tests with injected responses.

    GIVEN the table   WHEN BatchWriteItem with 25 puts   THEN UnprocessedItems == {}, 25 items.
    """
    requests: list[Any] = [
        {"PutRequest": {"Item": {"pk": {"S": "BUCKET#b"}, "sk": {"S": f"KEY#{i:02d}"}}}}
        for i in range(25)
    ]

    answer = clients.dynamodb.batch_write_item(RequestItems={names.table: requests})

    assert answer["UnprocessedItems"] == {}
    assert clients.dynamodb.scan(TableName=names.table, Select="COUNT")["Count"] == 25
