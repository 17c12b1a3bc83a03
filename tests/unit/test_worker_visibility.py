"""``runtimes.visibility``: the heartbeat that keeps messages out of sight while they are worked
on, within SQS's 12 hours, and the backoff a message failed for a fault of ours gets."""

from __future__ import annotations

import time
from typing import Any, cast

import boto3
import pytest
from botocore.stub import Stubber

from bucketsync.aws.queues import change_visibility
from bucketsync.runtimes.visibility import (
    MAX_VISIBILITY_SECONDS,
    Heartbeat,
    backoff_seconds,
    queue_url_of,
)

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/q"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """An SQS client that records ChangeMessageVisibilityBatch requests and refuses some."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.requests: list[list[tuple[str, int]]] = []
        self.refuse = refuse

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[Any]) -> Any:
        assert QueueUrl == QUEUE
        self.requests.append([(e["ReceiptHandle"], e["VisibilityTimeout"]) for e in Entries])
        return {
            "Successful": [
                {"Id": e["Id"]} for e in Entries if e["ReceiptHandle"] not in self.refuse
            ],
            "Failed": [
                {"Id": e["Id"], "Code": "ReceiptHandleIsInvalid", "SenderFault": True}
                for e in Entries
                if e["ReceiptHandle"] in self.refuse
            ],
        }


def heartbeat(sqs: Recorder, clock: Clock, timeout: int = 30) -> Heartbeat:
    return Heartbeat(cast(Any, sqs), QUEUE, timeout, clock=clock)


def test_handles_are_extended_at_half_their_timeout_ten_a_request() -> None:
    # GIVEN 25 messages received at 0 s and 5 more at 10 s, with a 30 s visibility timeout
    sqs, clock = Recorder(), Clock()
    beat = heartbeat(sqs, clock)
    beat.track([f"a{n}" for n in range(25)], received=0.0)
    beat.track([f"b{n}" for n in range(5)], received=10.0)
    # WHEN the heartbeat beats at 14 s: nothing is within 15 s of coming back
    clock.now = 14.0
    beat.beat()
    assert sqs.requests == []
    # THEN at 15 s the first 25 are extended to 30 s from now, in 3 requests
    clock.now = 15.0
    beat.beat()
    assert [len(r) for r in sqs.requests] == [10, 10, 5]
    assert {seconds for r in sqs.requests for _, seconds in r} == {30}
    # ... and not again until half of that has passed; the others at their own time
    sqs.requests.clear()
    clock.now = 25.0
    beat.beat()
    assert [h for r in sqs.requests for h, _ in r] == [f"b{n}" for n in range(5)]
    beat.stop()


def test_an_untracked_handle_is_no_longer_extended() -> None:
    sqs, clock = Recorder(), Clock()
    beat = heartbeat(sqs, clock)
    beat.track(["kept", "deleted"], received=0.0)
    beat.untrack(["deleted"])
    clock.now = 20.0
    beat.beat()
    assert sqs.requests == [[("kept", 30)]]
    beat.stop()


def test_never_past_twelve_hours_from_the_receive() -> None:
    # GIVEN a message held for almost 12 hours
    sqs, clock = Recorder(), Clock()
    beat = heartbeat(sqs, clock)
    beat.track(["old"], received=0.0)
    clock.now = MAX_VISIBILITY_SECONDS - 20.0
    # WHEN it beats: only what is left of the 12 hours (less a safety margin) is asked for
    beat.beat()
    assert sqs.requests == [[("old", 15)]]
    # THEN once nothing is left it is lost: SQS hands it out again
    clock.now = MAX_VISIBILITY_SECONDS - 4.0
    beat.beat()
    assert len(sqs.requests) == 1
    assert beat.lost() == {"old"}
    beat.stop()


def test_a_refused_handle_is_lost() -> None:
    sqs, clock = Recorder(refuse=frozenset({"gone"})), Clock()
    beat = heartbeat(sqs, clock)
    beat.track(["gone", "here"], received=0.0)
    clock.now = 16.0
    beat.beat()
    assert beat.lost() == {"gone"}
    assert beat.extensions == 1
    clock.now = 40.0
    beat.beat()
    assert [h for h, _ in sqs.requests[-1]] == ["here"]
    beat.stop()


def test_the_thread_runs_only_while_something_is_tracked() -> None:
    sqs = Recorder()
    beat = Heartbeat(cast(Any, sqs), QUEUE, 1)  # the real clock; a tick of 0.25 s
    beat.track(["a"])
    time.sleep(1.2)
    assert sqs.requests, "the thread extended nothing"
    beat.untrack(["a"])
    deadline = time.monotonic() + 3
    while beat._thread is not None:
        assert time.monotonic() < deadline, "the thread did not end"
        time.sleep(0.05)


def test_a_request_that_fails_whole_is_logged_and_tried_again() -> None:
    client = boto3.client(
        "sqs", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    with Stubber(client) as stub:
        stub.add_client_error("change_message_visibility_batch", "AWS.SimpleQueueService.Throttled")
        changed, refused = change_visibility(client, QUEUE, [("h", 30)])
    assert (changed, refused) == (set(), set())


@pytest.mark.parametrize(
    ("receives", "seconds"), [(1, 60), (2, 120), (3, 240), (5, 960), (7, 3600), (30, 3600)]
)
def test_the_backoff_doubles_with_each_receive(receives: int, seconds: int) -> None:
    assert backoff_seconds(receives) == seconds


def test_a_queue_url_from_an_event_source_arn() -> None:
    arn = "arn:aws:sqs:eu-west-1:123456789012:bucketsync-events"
    assert queue_url_of(arn) == "https://sqs.eu-west-1.amazonaws.com/123456789012/bucketsync-events"
    china = "arn:aws-cn:sqs:cn-north-1:123456789012:q"
    assert queue_url_of(china) == "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q"
    assert queue_url_of(arn, "http://127.0.0.1:5000/") == (
        "http://127.0.0.1:5000/123456789012/bucketsync-events"
    )
    with pytest.raises(ValueError, match="not an SQS queue ARN"):
        queue_url_of("arn:aws:sns:us-east-1:123456789012:topic")
