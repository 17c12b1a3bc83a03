"""``runtimes.processor``: the partial-batch flow both runtimes share, seen through a runtime
that only records what its hooks are handed; and the SQS batch calls under it
(``aws.queues``), ten entries a request."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from bucketsync.aws.queues import delete_messages, send_all
from bucketsync.engine.pipeline import Engine
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import (
    ConfigurationError,
    RetryableError,
    SinkWriteError,
    UnfinishedError,
)
from bucketsync.runtimes.processor import PartialBatch
from bucketsync.sinks.memory import MemorySink
from tests.unit.fakes import FakeBucket, to_body

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
Pair = tuple[str, str]  # (message id, body)


class Failing(MemorySink):
    """Fails the keys in ``errors`` with their error."""

    def __init__(self, errors: dict[str, BaseException]) -> None:
        super().__init__()
        self.errors = errors

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]:
        fine = iter(super().apply([u for u in updates if u.key not in self.errors]))
        return [self.errors[u.key] if u.key in self.errors else next(fine) for u in updates]


class Recording(PartialBatch[Pair]):
    """A runtime whose messages are (id, body) pairs and whose hooks only note what they get."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.calls: list[tuple[str, list[str]]] = []

    def _message_id(self, message: Pair) -> str:
        return message[0]

    def _body(self, message: Pair) -> str:
        return message[1]

    def _receives(self, message: Pair) -> int:
        return 3

    def _consume(self, done: Sequence[Pair]) -> None:
        self.calls.append(("consume", [m[0] for m in done]))

    def _fail_alone(self, failed: Sequence[Pair]) -> None:
        self.calls.append(("fail_alone", [m[0] for m in failed]))

    def _keep(self, kept: Sequence[Pair]) -> None:
        self.calls.append(("keep", [m[0] for m in kept]))


def test_each_group_reaches_its_hook_in_batch_order() -> None:
    # GIVEN a batch of a good message, one a sink refuses, one throttled, one meeting a missing
    # table, a load checkpointed before the deadline, and a body that is not an event
    bucket = FakeBucket()
    errors: dict[str, BaseException] = {
        "refused.txt": SinkWriteError("item too large"),
        "throttled.txt": RetryableError("ThrottlingException"),
        "missing.txt": ConfigurationError("ResourceNotFoundException"),
        "unfinished.txt": UnfinishedError("out of time at row 7"),
    }
    keys = ["good.txt", "throttled.txt", "refused.txt", "missing.txt", "unfinished.txt"]
    messages = [(key, to_body(bucket.put(key, b"x"))) for key in keys]
    messages.insert(2, ("junk", "{not json"))
    batch = Recording(Engine(bucket, [Failing(errors)]))
    # WHEN the runtime processes it
    settled = batch.process(messages)
    # THEN each hook is called once, with its group in batch order: poison and the checkpointed
    # load fail alone, the faults of ours are kept
    assert batch.calls == [
        ("consume", ["good.txt"]),
        ("fail_alone", ["junk", "refused.txt", "unfinished.txt"]),
        ("keep", ["throttled.txt", "missing.txt"]),
    ]
    assert set(settled.report.failures) == {m for m, _ in messages} - {"good.txt"}
    # ... and the one to name is the configuration fault, though the transient one came first
    worst = settled.worst()
    assert worst is not None and worst.message[0] == "missing.txt"
    assert batch.backoff(worst.message) == 240


def test_a_batch_that_went_through_keeps_nothing() -> None:
    bucket = FakeBucket()
    batch = Recording(Engine(bucket, [MemorySink()]))
    settled = batch.process([("a", to_body(bucket.put("a.txt", b"a")))])
    assert batch.calls == [("consume", ["a"]), ("fail_alone", []), ("keep", [])]
    assert settled.worst() is None


@pytest.fixture
def sqs() -> Any:
    return boto3.client(
        "sqs", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


def test_send_all_stops_at_a_request_that_fails_whole_and_says_why(sqs: Any) -> None:
    # GIVEN 25 bodies (3 requests' worth) and SQS throttling the second request
    with Stubber(sqs) as stub:
        stub.add_response("send_message_batch", {"Successful": [], "Failed": []})
        stub.add_client_error("send_message_batch", "RequestThrottled", http_status_code=400)
        # WHEN they are sent THEN the call fails, translated, with botocore's error as its cause
        with pytest.raises(RetryableError, match=r"SendMessageBatch .*RequestThrottled") as sent:
            send_all(sqs, QUEUE, [f"body {n}" for n in range(25)])
        stub.assert_no_pending_responses()  # ... and the third request was never sent
    assert isinstance(sent.value.__cause__, ClientError)


def test_delete_messages_logs_a_failure_and_goes_on(
    sqs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN 12 handles, SQS failing the first request whole and refusing one of the second's
    handles = [f"h{n}" for n in range(12)]
    refused = {"Id": "1", "SenderFault": True, "Code": "ReceiptHandleIsInvalid", "Message": "old"}
    with Stubber(sqs) as stub:
        stub.add_client_error("delete_message_batch", "InternalError", http_status_code=500)
        stub.add_response(
            "delete_message_batch",
            {"Successful": [{"Id": "0"}], "Failed": [refused]},
            {
                "QueueUrl": QUEUE,
                "Entries": [
                    {"Id": "0", "ReceiptHandle": "h10"},
                    {"Id": "1", "ReceiptHandle": "h11"},
                ],
            },
        )
        # WHEN they are deleted THEN the second request is still sent, and both are logged
        with caplog.at_level(logging.WARNING, logger="bucketsync"):
            delete_messages(sqs, QUEUE, handles)
        stub.assert_no_pending_responses()
    assert [r.getMessage() for r in caplog.records] == [
        "DeleteMessageBatch failed: DeleteMessageBatch: InternalError: ",
        "could not delete message: old",
    ]
