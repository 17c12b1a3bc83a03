"""The Lambda handler and faults that are ours: the wait is handed to SQS (each message's
visibility grown with its receive count) and a configuration fault fails the batch whole."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bucketsync.engine.pipeline import Engine
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import ConfigurationError, RetryableError, SinkWriteError
from bucketsync.runtimes.lambda_handler import LambdaApp
from bucketsync.settings import Settings
from bucketsync.sinks.memory import MemorySink
from tests.unit.fakes import FakeBucket, to_body

ARN = "arn:aws:sqs:us-east-1:123456789012:events"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/events"


class Failing(MemorySink):
    """Fails the keys in ``errors`` with their error."""

    name = "catalog"

    def __init__(self, errors: dict[str, BaseException]) -> None:
        super().__init__()
        self.errors = errors

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]:
        fine = iter(super().apply([u for u in updates if u.key not in self.errors]))
        return [self.errors[u.key] if u.key in self.errors else next(fine) for u in updates]


@pytest.fixture
def sqs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "sqs", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def batch(*keys_and_receives: tuple[str, int]) -> dict[str, Any]:
    bucket = FakeBucket()
    return {
        "Records": [
            {
                "messageId": f"id-{key}",
                "receiptHandle": f"handle-{key}",
                "body": to_body(bucket.put(key, b"x")),
                "attributes": {"ApproximateReceiveCount": str(receives)},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": ARN,
                "awsRegion": "us-east-1",
            }
            for key, receives in keys_and_receives
        ]
    }


def app_for(errors: dict[str, BaseException], client: Any) -> LambdaApp:
    engine = Engine(FakeBucket(), [Failing(errors)])
    return LambdaApp(Settings(table="nope"), engine, sqs=client)


def context() -> Any:
    return SimpleNamespace(
        function_name="bucketsync",
        memory_limit_in_mb=256,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bucketsync",
        aws_request_id="req-1",
        get_remaining_time_in_millis=lambda: 60_000,
    )


def visibility(*entries: tuple[str, int]) -> dict[str, Any]:
    return {
        "QueueUrl": QUEUE,
        "Entries": [
            {"Id": str(i), "ReceiptHandle": f"handle-{key}", "VisibilityTimeout": seconds}
            for i, (key, seconds) in enumerate(entries)
        ],
    }


def ok(count: int) -> dict[str, Any]:
    return {"Successful": [{"Id": str(i)} for i in range(count)], "Failed": []}


def test_a_configuration_fault_fails_the_batch_whole_with_backoff(sqs: Any) -> None:
    # GIVEN a batch whose writes all meet a missing table, received once and three times
    client, stub = sqs
    missing = ConfigurationError("PutItem: ResourceNotFoundException")
    app = app_for({"a.txt": missing, "b.txt": missing}, client)
    stub.add_response(
        "change_message_visibility_batch", ok(2), visibility(("a.txt", 60), ("b.txt", 240))
    )
    # WHEN the handler runs THEN it raises (the batch failed whole), saying why and where,
    # after making each message wait its backoff (the queue from the record's ARN)
    with pytest.raises(ConfigurationError) as failed:
        app.handle(batch(("a.txt", 1), ("b.txt", 3)), context())
    assert "configuration fault" in str(failed.value)
    assert "ResourceNotFoundException" in str(failed.value)
    assert "catalog table 'nope'" in str(failed.value)


def test_a_transient_fault_beside_successes_is_a_partial_response(sqs: Any) -> None:
    client, stub = sqs
    app = app_for({"slow.txt": RetryableError("ThrottlingException")}, client)
    stub.add_response("change_message_visibility_batch", ok(1), visibility(("slow.txt", 120)))
    response = app.handle(batch(("slow.txt", 2), ("fine.txt", 1)), context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "id-slow.txt"}]}


def test_a_transient_fault_of_every_message_fails_the_batch_whole(sqs: Any) -> None:
    client, stub = sqs
    app = app_for({"a.txt": RetryableError("InternalError")}, client)
    stub.add_response("change_message_visibility_batch", ok(1), visibility(("a.txt", 60)))
    with pytest.raises(RetryableError, match="transient fault"):
        app.handle(batch(("a.txt", 1)), context())


def test_poison_stays_a_partial_failure_and_touches_no_visibility(sqs: Any) -> None:
    client, _ = sqs  # no response queued: any SQS call fails the test
    app = app_for({"bad.txt": SinkWriteError("item too large")}, client)
    response = app.handle(batch(("bad.txt", 1), ("fine.txt", 1)), context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "id-bad.txt"}]}
