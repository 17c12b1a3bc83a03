"""The worker's SQS requests and the engine's shutdown, with botocore's Stubber."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from bucketsync.engine.pipeline import Engine
from bucketsync.runtimes.build import build_worker
from bucketsync.runtimes.worker import Worker
from bucketsync.settings import Settings
from bucketsync.sinks.memory import MemorySink
from tests.unit.fakes import FakeBucket

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/q"


def sqs() -> Any:
    return boto3.client(
        "sqs", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


def receive_params(**extra: Any) -> dict[str, Any]:
    return {
        "QueueUrl": QUEUE,
        "MaxNumberOfMessages": 10,
        "WaitTimeSeconds": 0,
        "MessageSystemAttributeNames": ANY,
        **extra,
    }


def test_the_configured_visibility_timeout_is_asked_for_on_receive() -> None:
    client = sqs()
    settings = Settings(queue_url=QUEUE, visibility_timeout=45, wait_time_seconds=0)
    clients = type("C", (), {"sqs": client, "s3": None, "dynamodb": None})()
    with Stubber(client) as stub:
        stub.add_response("receive_message", {}, receive_params(VisibilityTimeout=45))
        worker = build_worker(settings, clients)
        worker.poll_once()
        stub.assert_no_pending_responses()


def test_without_one_the_queue_keeps_its_own() -> None:
    client = sqs()
    engine = Engine(FakeBucket(), [MemorySink()])
    with Stubber(client) as stub:
        stub.add_response("receive_message", {}, receive_params())  # no VisibilityTimeout
        Worker(engine, client, QUEUE, wait_time_seconds=0).poll_once()
        stub.assert_no_pending_responses()


def test_closing_the_engine_closes_sinks_that_hold_resources() -> None:
    closed: list[str] = []

    class Closable(MemorySink):
        def close(self) -> None:
            closed.append(self.name)

    engine = Engine(FakeBucket(), [Closable(), MemorySink()])
    engine.close()
    assert closed == ["memory"]
