"""The same S3 notification, wrapped every way AWS delivers it, parses to the same changes."""

from __future__ import annotations

import json

import pytest

import bucketsync.events
from bucketsync.events import Change, MalformedEventError, parse_message, parse_payload
from tests.events import event_text, load_event


def sqs_event(*bodies: str) -> dict[str, object]:
    """A Lambda SQS event carrying ``bodies``."""
    return {
        "Records": [
            {"messageId": f"m{i}", "body": body, "eventSource": "aws:sqs"}
            for i, body in enumerate(bodies)
        ]
    }


def sns_body(message: str) -> str:
    """An SQS body as SNS writes it without raw delivery."""
    return json.dumps({"Type": "Notification", "MessageId": "x", "Message": message})


def sns_lambda_event(message: str) -> dict[str, object]:
    return {
        "Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": message}}]
    }


NOTIFICATION = event_text("s3_put")
WRAPPED = {
    "direct": json.loads(NOTIFICATION),
    "sqs": sqs_event(NOTIFICATION),
    "sns_in_sqs_body": json.loads(sns_body(NOTIFICATION)),
    "sns_lambda": sns_lambda_event(NOTIFICATION),
    "sns_in_sqs_lambda": sqs_event(sns_body(NOTIFICATION)),
    "eventbridge_via_sns_in_sqs_lambda": sqs_event(
        sns_body(event_text("eventbridge_object_created"))
    ),
}


def expected_for(name: str) -> list[Change]:
    source = "eventbridge_object_created" if name.startswith("eventbridge") else "s3_put"
    return parse_payload(load_event(source))


@pytest.mark.parametrize("name", sorted(WRAPPED))
def test_every_wrapping_yields_the_inner_changes(name: str) -> None:
    # GIVEN one event inside some combination of envelopes
    payload = WRAPPED[name]
    # WHEN the outer payload is parsed, decoded and as text
    decoded = parse_payload(payload)
    as_text = parse_message(json.dumps(payload))
    # THEN the changes are the unwrapped event's
    assert decoded == as_text == expected_for(name)


def test_a_lambda_sqs_batch_keeps_message_order_and_flattens_bodies() -> None:
    # GIVEN a batch: a put, a test event, a tagging event (skipped), an EventBridge delete
    event = sqs_event(
        event_text("s3_put"),
        event_text("s3_test_event"),
        event_text("s3_tagging"),
        event_text("eventbridge_object_deleted"),
    )
    # WHEN the batch is parsed
    changes = parse_payload(event)
    # THEN the put and the delete come out, in that order
    assert [c.event_name for c in changes] == [
        "ObjectCreated:Put",
        "ObjectRemoved:DeleteMarkerCreated",
    ]


def test_nesting_is_bounded() -> None:
    # GIVEN an S3 notification wrapped in four SNS envelopes
    body = NOTIFICATION
    for _ in range(4):
        body = sns_body(body)
    # WHEN it is parsed
    with pytest.raises(MalformedEventError) as caught:
        parse_message(body)
    # THEN the fourth peel is refused, at the path where it would have happened
    assert "nested more than 3 deep" in caught.value.reason
    assert caught.value.path == "Message>Message>Message>Message"


def test_three_envelopes_deep_is_still_accepted() -> None:
    # GIVEN a notification three strings-of-JSON deep (SQS body > SNS > SNS)
    event = sqs_event(sns_body(sns_body(NOTIFICATION)))
    # WHEN it is parsed
    changes = parse_payload(event)
    # THEN the notification's change comes out
    assert changes == expected_for("s3_put")


def test_the_package_exports_exactly_its_public_names() -> None:
    # GIVEN the events package
    # WHEN its public names are listed
    exported = sorted(bucketsync.events.__all__)
    # THEN they are exactly these, and each resolves
    assert exported == sorted(
        ["Change", "ChangeKind", "MalformedEventError", "parse_message", "parse_payload"]
    )
    namespace: dict[str, object] = {}
    exec("from bucketsync.events import *", namespace)
    assert sorted(k for k in namespace if not k.startswith("__")) == exported
