"""The benchmarks' fake AWS answers boto3 with well-formed responses, after its latency."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, Literal

import boto3
import pytest
from bench.fake_aws import Delay, FakeAWS, FakeWrites, attach


def client(service: Literal["s3", "dynamodb", "sqs"]) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url="http://fake-aws.invalid",
        aws_access_key_id="fake",
        aws_secret_access_key="fake",
    )


def test_head_object_answers_size_and_etag_of_the_key_after_the_latency() -> None:
    fake = FakeAWS(0.01, {"a b/c.json": b"hello"})
    s3 = client("s3")
    attach([s3], fake)
    started = time.perf_counter()
    head = s3.head_object(Bucket="b", Key="a b/c.json")
    assert time.perf_counter() - started >= 0.01
    assert head["ContentLength"] == 5
    assert head["ETag"] == f'"{hashlib.md5(b"hello").hexdigest()}"'


def test_writes_succeed_and_the_queue_hands_out_each_body_once() -> None:
    fake = FakeAWS(0.0)
    dynamodb, sqs = client("dynamodb"), client("sqs")
    attach([dynamodb, sqs], fake)
    item = {"pk": {"S": "p"}, "sk": {"S": "s"}}
    dynamodb.put_item(TableName="t", Item=item)
    dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": item}}])
    fake.enqueue(f"body {n}" for n in range(12))
    url = "http://fake-aws.invalid/123456789012/q"
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first + second] == [f"body {n}" for n in range(12)]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(first)]
    answer = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    assert len(answer["Successful"]) == 10
    assert answer["Failed"] == []


def test_an_operation_it_does_not_know_is_an_error_not_a_silent_success() -> None:
    s3 = client("s3")
    attach([s3], FakeAWS(0.0))
    with pytest.raises(NotImplementedError, match="ListObjectsV2"):
        s3.list_objects_v2(Bucket="b")


def test_delay_sleeps_then_lets_the_request_through() -> None:
    # Seen as botocore sees a hook: whatever it returns, None being "send the request".
    delay: Callable[..., object] = Delay(0.01)
    started = time.perf_counter()
    assert delay() is None
    assert time.perf_counter() - started >= 0.01


def test_fake_writes_answer_puts_and_batches_after_a_size_bound_latency() -> None:
    fake = FakeWrites(base=0.005, per_kb=0.001)
    dynamodb = client("dynamodb")
    attach([dynamodb], fake)
    item = {"pk": {"S": "p"}, "sk": {"S": "s"}, "blob": {"S": "x" * 20_000}}
    started = time.perf_counter()
    dynamodb.put_item(TableName="t", Item=item)
    assert time.perf_counter() - started >= 0.005 + 0.019  # about 20 KB sent
    batch = [{"PutRequest": {"Item": {"pk": {"S": "p"}, "sk": {"S": str(n)}}}} for n in range(3)]
    answer = dynamodb.batch_write_item(RequestItems={"t": batch})
    assert answer.get("UnprocessedItems", {}) == {}
    assert (fake.requests, fake.items) == (2, 4)


def test_fake_writes_let_every_other_request_through() -> None:
    fake = FakeWrites(base=0.0)
    dynamodb = client("dynamodb")
    attach([dynamodb], fake)
    # Passed on, the request meets the unreachable endpoint: proof it was not answered here.
    with pytest.raises(Exception, match=r"fake-aws\.invalid"):
        dynamodb.update_item(
            TableName="t",
            Key={"pk": {"S": "p"}},
            UpdateExpression="SET a = :a",
            ExpressionAttributeValues={":a": {"S": "b"}},
        )
    assert fake.requests == 0
