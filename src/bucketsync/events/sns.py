"""SNS notifications: the JSON SNS wraps a message in, on its way to SQS or to Lambda.

* SNS → SQS without raw delivery: the SQS body is ``{"Type": "Notification", "Message": "..."}``.
* SNS → Lambda: each record is ``{"EventSource": "aws:sns", "Sns": {..., "Message": "..."}}``.
* SNS → SQS with raw delivery: the body is the message itself; nothing here is involved.

Shapes: https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html and
https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html
"""

from __future__ import annotations

from bucketsync.events.fields import JsonObject, describe, fail, req_str

LAMBDA_SOURCE = "aws:sns"

_NOTIFICATION = "Notification"
_CONFIRMATIONS = frozenset({"SubscriptionConfirmation", "UnsubscribeConfirmation"})


def is_sns_message(value: JsonObject) -> bool:
    return "Type" in value and "Message" in value


def notification_message(notification: JsonObject, where: str) -> str:
    """The ``Message`` text of an SNS notification (still JSON text, not decoded)."""
    kind = notification.get("Type")
    if isinstance(kind, str) and kind in _CONFIRMATIONS:
        # An HTTP(S) subscription's handshake reached the parser: failing loudly says that the
        # subscription needs confirming, where skipping it would leave it pending for ever.
        fail(f"SNS {kind} is not a notification; confirm it via SubscribeURL", where, "Type")
    if kind != _NOTIFICATION:
        fail(f"expected SNS message type {_NOTIFICATION!r}, got {describe(kind)}", where, "Type")
    return req_str(notification, "Message", where)
