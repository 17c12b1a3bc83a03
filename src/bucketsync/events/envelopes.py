"""Recognise which envelope a payload is, peel it, and hand the S3 events inside to their parser.

Envelopes, as they nest in practice (each ``>`` is JSON text carried in a string)::

    S3 notification            {"Records": [{"eventSource": "aws:s3", ...}]}
    s3:TestEvent               {"Service": "Amazon S3", "Event": "s3:TestEvent", ...}
    EventBridge                {"source": "aws.s3", "detail-type": ..., "detail": {...}}
    SQS body                   any of the above, or an SNS notification
    SNS notification           {"Type": "Notification", "Message": > any of the above}
    Lambda SQS event           {"Records": [{"eventSource": "aws:sqs", "body": > SQS body}]}
    Lambda SNS event           {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": > ...}}]}

Peeling is recursive but bounded by :data:`MAX_DEPTH` strings-of-JSON, so a hostile body that
wraps itself again and again fails fast instead of recursing.
"""

from __future__ import annotations

from bucketsync.errors import MalformedEventError
from bucketsync.events import eventbridge, s3, sns
from bucketsync.events.fields import (
    EMBEDDED,
    JsonObject,
    as_object,
    decode_json,
    describe,
    fail,
    join,
    req_list,
    req_object,
    req_str,
)
from bucketsync.events.model import Change

# Lambda SQS event > SNS notification > S3 notification is the deepest real chain (2 peels).
MAX_DEPTH = 3

_SQS_SOURCE = "aws:sqs"
_TEST_EVENT = "s3:TestEvent"
_TEST_SERVICE = "Amazon S3"


def parse_message(body: str | bytes) -> list[Change]:
    """The changes in one SQS message body or HTTP request body (JSON text), in any envelope."""
    if not isinstance(body, str | bytes | bytearray):
        raise MalformedEventError(f"expected JSON text, got {describe(body)}")
    return _parse_value(decode_json(body, ""), "", 0)


def parse_payload(payload: object) -> list[Change]:
    """The changes in an already-decoded Lambda event or message body, in any envelope."""
    return _parse_value(payload, "", 0)


def _parse_value(value: object, where: str, depth: int) -> list[Change]:
    envelope = as_object(value, where)
    if "Records" in envelope:
        return _parse_records(envelope, where, depth)
    if "detail-type" in envelope:
        if envelope.get("source") != eventbridge.SOURCE:
            fail(f"EventBridge source must be {eventbridge.SOURCE!r}", where, "source")
        change = eventbridge.parse_event(envelope, where)
        return [] if change is None else [change]
    if sns.is_sns_message(envelope):
        message = sns.notification_message(envelope, where)
        return _parse_embedded(message, join(where, "Message"), depth)
    if envelope.get("Event") == _TEST_EVENT:
        if envelope.get("Service") != _TEST_SERVICE:
            fail(f"s3:TestEvent must come from {_TEST_SERVICE!r}", where, "Service")
        return []
    fail(
        "not an S3 event: expected Records, an EventBridge event, an SNS notification "
        "or an s3:TestEvent",
        where,
    )


def _parse_records(envelope: JsonObject, where: str, depth: int) -> list[Change]:
    records = req_list(envelope, "Records", where)
    if not records:
        fail("must not be empty", where, "Records")
    base = join(where, "Records")
    changes: list[Change] = []
    for index, raw in enumerate(records):
        record_where = f"{base}[{index}]"
        record = as_object(raw, record_where)
        source = record.get("eventSource")
        if source == s3.SOURCE:
            change = s3.parse_record(record, record_where)
            if change is not None:
                changes.append(change)
        elif source == _SQS_SOURCE:
            body = req_str(record, "body", record_where)
            changes.extend(_parse_embedded(body, join(record_where, "body"), depth))
        elif record.get("EventSource") == sns.LAMBDA_SOURCE:
            sns_where = join(record_where, "Sns")
            message = sns.notification_message(req_object(record, "Sns", record_where), sns_where)
            changes.extend(_parse_embedded(message, join(sns_where, "Message"), depth))
        else:
            fail(
                f"unknown record source {describe(source)}: expected eventSource "
                f"{s3.SOURCE!r} or {_SQS_SOURCE!r}, or EventSource {sns.LAMBDA_SOURCE!r}",
                record_where,
                "eventSource",
            )
    return changes


def _parse_embedded(text: str, where: str, depth: int) -> list[Change]:
    if depth >= MAX_DEPTH:
        fail(f"envelopes nested more than {MAX_DEPTH} deep", where)
    return _parse_value(decode_json(text, where), where + EMBEDDED, depth + 1)
