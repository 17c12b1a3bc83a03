"""The event path end to end, over HTTP against the moto server.

S3 → (notification) → SQS → worker or Lambda handler → DynamoDB catalog. moto's notifications
carry no sequencer, so these runs exercise observation ordering; sequencer ordering is driven
here by golden payloads fed to the Lambda handler.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bucketsync.aws.clients import Clients
from bucketsync.aws.request_counter import RequestCounter
from bucketsync.local.stack import Stack
from bucketsync.reconcile import catalog_fingerprints, compare, list_bucket
from bucketsync.runtimes.build import build_worker
from bucketsync.runtimes.lambda_handler import LambdaApp
from bucketsync.runtimes.worker import Worker
from bucketsync.settings import Settings
from bucketsync.sinks.catalog.reader import CatalogReader

EVENTS = Path(__file__).parents[1] / "events"


def worker_for(settings: Settings, clients: Clients, stack: Stack) -> Worker:
    return build_worker(settings, clients, queue_url=stack.queue_url, threads=2)


def reader(clients: Clients, stack: Stack) -> CatalogReader:
    return CatalogReader(clients.dynamodb, stack.table)


def assert_catalog_equals_bucket(clients: Clients, stack: Stack) -> None:
    drift = compare(
        dict(list_bucket(clients.s3, stack.bucket)),
        catalog_fingerprints(reader(clients, stack).list(stack.bucket)),
    )
    assert drift.in_sync, drift


def lambda_context() -> Any:
    return SimpleNamespace(
        function_name="bucketsync",
        memory_limit_in_mb=256,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bucketsync",
        aws_request_id="req-1",
    )


def test_put_reaches_the_catalog_through_queue_and_worker(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN an object uploaded with a key that needs decoding and some metadata
    key = "in/sub dir/a+b%2Bc é.txt"
    clients.s3.put_object(
        Bucket=stack.bucket,
        Key=key,
        Body=b"hello",
        ContentType="text/plain",
        Metadata={"owner": "ops"},
    )
    # WHEN the worker drains the queue
    stats = worker_for(settings, clients, stack).drain()
    # THEN the catalog has the object with HeadObject's details (and the test event was skipped)
    assert stats.failed == 0
    item = reader(clients, stack).get(stack.bucket, key)
    assert item is not None
    assert item["object_key"] == key
    assert item["size"] == 5
    assert item["etag"] == "5d41402abc4b2a76b9719d911017c592"
    assert item["content_type"] == "text/plain"
    assert item["metadata"] == {"owner": "ops"}
    assert item["event_type"] == "ObjectCreated:Put"
    assert item["deleted"] is False
    assert item["pk"] == f"BUCKET#{stack.bucket}"
    assert item["sk"] == f"KEY#{key}"


def test_overwrite_and_delete_converge(settings: Settings, clients: Clients, stack: Stack) -> None:
    # GIVEN a create, an overwrite, a delete and another key, all before the worker runs
    s3 = clients.s3
    s3.put_object(Bucket=stack.bucket, Key="a.txt", Body=b"1")
    s3.put_object(Bucket=stack.bucket, Key="a.txt", Body=b"22")
    s3.put_object(Bucket=stack.bucket, Key="gone.txt", Body=b"x")
    s3.delete_object(Bucket=stack.bucket, Key="gone.txt")
    # WHEN the worker drains the queue
    worker_for(settings, clients, stack).drain()
    # THEN the overwrite won, the delete left a tombstone with a TTL, and catalog == bucket
    assert reader(clients, stack).get(stack.bucket, "a.txt")["size"] == 2  # type: ignore[index]
    tombstone = reader(clients, stack).get(stack.bucket, "gone.txt")
    assert tombstone is not None and tombstone["deleted"] is True
    assert tombstone["expires_at"] > 0
    assert_catalog_equals_bucket(clients, stack)


def test_poison_message_ends_in_the_dlq_alone(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN good uploads and one malformed message in the same queue
    for i in range(5):
        clients.s3.put_object(Bucket=stack.bucket, Key=f"ok/{i}", Body=b"x")
    clients.sqs.send_message(QueueUrl=stack.queue_url, MessageBody='{"Records": [oops')
    # WHEN the worker drains it (the bad one is retried until the redrive policy moves it)
    worker_for(settings, clients, stack).drain(idle_polls=3)
    # THEN the good ones landed and the DLQ holds exactly the malformed one
    assert_catalog_equals_bucket(clients, stack)
    dead = clients.sqs.receive_message(QueueUrl=stack.dlq_url, MaxNumberOfMessages=10)
    bodies = [m["Body"] for m in dead.get("Messages", [])]
    assert bodies == ['{"Records": [oops']


def golden_sqs_batch(bucket: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "sqs_lambda_s3.json").read_text())
    for record in event["Records"]:
        body = json.loads(record["body"])
        for s3_record in body.get("Records", []):
            s3_record["s3"]["bucket"]["name"] = bucket
        record["body"] = json.dumps(body)
    return event


def test_lambda_handler_applies_a_golden_sqs_batch(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN a documented SQS batch aimed at our bucket: a create of test.pdf, then (higher
    # sequencer) a delete marker for it; the object exists in S3 when the batch runs
    event = golden_sqs_batch(stack.bucket)
    clients.s3.put_object(Bucket=stack.bucket, Key="test.pdf", Body=b"golden")
    # WHEN the Lambda handler runs it, and then runs it again (at-least-once delivery)
    first = LambdaApp(settings).handle(event, lambda_context())
    again = LambdaApp(settings).handle(event, lambda_context())
    # THEN nothing failed, and the newest change (the delete marker) won under its sequencer
    assert first == again == {"batchItemFailures": []}
    item = reader(clients, stack).get(stack.bucket, "test.pdf")
    assert item is not None
    assert item["deleted"] is True
    assert item["event_type"] == "ObjectRemoved:DeleteMarkerCreated"
    assert item["rev"] == "S" + "00643718123ABCDEF0".ljust(64, "0")


def test_a_late_create_does_not_resurrect_after_the_delete_marker(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN the golden batch's delete marker applied first, alone
    event = golden_sqs_batch(stack.bucket)
    create, delete = event["Records"]
    clients.s3.put_object(Bucket=stack.bucket, Key="test.pdf", Body=b"golden")
    app = LambdaApp(settings)
    app.handle({"Records": [delete]}, lambda_context())
    # WHEN the older create arrives late (HeadObject still finds the object)
    response = app.handle({"Records": [create]}, lambda_context())
    # THEN it is acknowledged but changes nothing: the tombstone stays
    assert response == {"batchItemFailures": []}
    item = reader(clients, stack).get(stack.bucket, "test.pdf")
    assert item is not None and item["deleted"] is True


def test_lambda_handler_reports_only_the_poison_message(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN a golden batch plus one malformed record
    event = golden_sqs_batch(stack.bucket)
    poison = copy.deepcopy(event["Records"][0])
    poison["messageId"] = "poison-1"
    poison["body"] = "not json at all"
    event["Records"].append(poison)
    # WHEN the handler runs it
    response = LambdaApp(settings).handle(event, lambda_context())
    # THEN only the poison message is reported for retry (then the DLQ)
    assert response == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}


@pytest.mark.parametrize("name", ["s3_put.json", "eventbridge_object_created.json"])
def test_lambda_handler_accepts_direct_invocations(
    name: str, settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN a direct S3 / EventBridge invocation for a bucket that is ours
    raw = (EVENTS / name).read_text()
    event = json.loads(raw)
    if "Records" in event:
        event["Records"][0]["s3"]["bucket"]["name"] = stack.bucket
    else:
        event["detail"]["bucket"]["name"] = stack.bucket
    # WHEN the handler runs it (the object does not exist: HeadObject says 404)
    result = LambdaApp(settings).handle(event, lambda_context())
    # THEN the change is applied, as a tombstone since S3 has no such object
    assert result == {"changes": 1}
    [item] = list(reader(clients, stack).list(stack.bucket, include_deleted=True))
    assert item["deleted"] is True


def test_single_write_mode_converges_with_one_conditional_put_per_key(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN several keys changed (creates, an overwrite, a delete) before the worker runs
    s3 = clients.s3
    for n in range(6):
        s3.put_object(Bucket=stack.bucket, Key=f"k{n}.txt", Body=b"v1")
    s3.put_object(Bucket=stack.bucket, Key="k0.txt", Body=b"version 2")
    s3.delete_object(Bucket=stack.bucket, Key="k5.txt")
    # WHEN a worker in single write mode drains the queue with a counted client
    counter = RequestCounter()
    counted = Clients(settings, counter)
    single = settings.override(write_mode="single")
    build_worker(single, counted, queue_url=stack.queue_url, threads=2).drain()
    # THEN no transaction was sent, and the catalog equals the bucket (tombstone included)
    assert counter.snapshot().get("dynamodb.TransactWriteItems", 0) == 0
    assert counter.snapshot()["dynamodb.PutItem"] >= 6
    assert reader(clients, stack).get(stack.bucket, "k0.txt")["size"] == 9  # type: ignore[index]
    assert reader(clients, stack).get(stack.bucket, "k5.txt")["deleted"] is True  # type: ignore[index]
    assert_catalog_equals_bucket(clients, stack)
