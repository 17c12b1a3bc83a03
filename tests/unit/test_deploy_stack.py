"""Deploy's pure parts: names, parameter values, tags, the change-less update, redrive batches,
log lines."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from bucketsync.aws.cloudwatch import LogEvent
from bucketsync.aws.queues import BATCH, BATCH_BYTES, batches
from bucketsync.aws.stacks import Stacks
from bucketsync.deploy.stack import Request, notification_id, stack_name
from bucketsync.errors import ConfigurationError
from bucketsync.operate.logs import line
from bucketsync.operate.redrive import describe
from bucketsync.record_routes import parse_routes

STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
buckets = st.from_regex(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", fullmatch=True)


@given(buckets)
def test_a_stack_name_is_valid_and_leaves_room_for_its_function_s_name(bucket: str) -> None:
    name = stack_name(bucket)
    assert STACK_NAME.match(name)
    assert len(f"{name}-sync") <= 64  # Lambda's limit on a function's name


def test_long_bucket_names_keep_distinct_stack_names() -> None:
    a, b = "a" * 60 + "x", "a" * 60 + "y"
    assert stack_name(a) != stack_name(b)
    assert stack_name("my.bucket") == "bucketsync-my-bucket"


def test_the_notification_id_names_the_stack_once() -> None:
    assert notification_id("bucketsync-photos") == "bucketsync-photos"
    assert notification_id("prod-sync") == "bucketsync-prod-sync"


def test_values_take_the_routes_flags_and_pairs_in_that_order() -> None:
    routes = parse_routes('[{"match": "data/*.csv", "table": "rows"}]')
    request = Request(
        bucket="b",
        stack="s",
        routes=routes,
        create_bucket=True,
        parameters={"FunctionMemory": "512", "BucketVersioning": "Enabled"},
    )
    values = request.values()
    assert json.loads(values["Routes"])[0]["table"] == "rows"
    assert values["CreateBucket"] == "true"
    assert values["FunctionMemory"] == "512"
    assert values["BucketVersioning"] == "Enabled"  # -p has the last word
    assert values["WriteMode"] == "single"


def test_an_unknown_parameter_is_refused_with_the_known_ones() -> None:
    with pytest.raises(
        ConfigurationError, match=r"unknown parameter Memory; known: .*FunctionMemory"
    ):
        Request(bucket="b", stack="s", parameters={"Memory": "512"}).values()


def test_tags_leave_out_empty_values_which_cloudformation_refuses() -> None:
    tags = Request(bucket="b", stack="s", prefix="uploads/").tags("art")
    assert tags["bucketsync:prefix"] == "uploads/"
    assert "bucketsync:suffix" not in tags
    assert all(tags.values())


def test_an_update_with_nothing_to_change_is_told_apart_from_a_failure() -> None:
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    stubber = Stubber(cfn)
    stubber.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": "s"})
    stubber.add_client_error(
        "update_stack",
        service_error_code="ValidationError",
        service_message="No updates are to be performed.",
    )
    stubber.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": "s"})
    stubber.add_client_error(
        "update_stack", service_error_code="ValidationError", service_message="Template error"
    )
    with stubber:
        stacks = Stacks(cfn, poll=0)
        assert stacks.update("s", {"body": "{}"}, {}, lambda event: None) is None
        with pytest.raises(Exception, match="Template error"):
            stacks.update("s", {"body": "{}"}, {}, lambda event: None)


def message(body: str, n: int = 0) -> dict[str, Any]:
    return {"MessageId": str(n), "Body": body, "ReceiptHandle": f"r{n}"}


@given(st.lists(st.integers(min_value=1, max_value=BATCH_BYTES), max_size=12))
def test_redrive_batches_keep_order_and_stay_under_sqs_s_limit(sizes: list[int]) -> None:
    messages = [message("x" * size, n) for n, size in enumerate(sizes)]
    found = list(batches(messages))
    assert [m for batch in found for m in batch] == messages
    for batch in found:
        assert len(batch) == 1 or sum(len(m["Body"]) for m in batch) <= BATCH_BYTES
        assert len(batch) <= BATCH


def test_a_dead_message_is_described_by_its_objects_or_why_it_is_not_one() -> None:
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectRemoved:Delete",
                "eventTime": "2026-12-06T10:00:00.000Z",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "a%2Fb+c.txt"}},
            }
        ]
    }
    assert describe(json.dumps(event)) == "ObjectRemoved:Delete s3://b/a/b c.txt"
    assert describe("not json").startswith("(not an S3 event:")


def test_log_lines_are_readable_for_json_and_plain_messages() -> None:
    at = 1_796_551_200_000  # 2026-12-06 10:00:00 UTC
    structured = json.dumps(
        {"level": "ERROR", "message": "boom", "location": "x:1", "key": "k", "service": "s"}
    )
    assert line(LogEvent("1", at, "s", structured)) == (
        '2026-12-06 10:00:00  ERROR   boom  {"key": "k"}'
    )
    assert line(LogEvent("2", at, "s", "START RequestId: 1\n")) == (
        "2026-12-06 10:00:00  START RequestId: 1"
    )
