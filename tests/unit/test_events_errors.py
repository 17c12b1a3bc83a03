"""Malformed input: always MalformedEventError, saying what is wrong and where."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

import pytest

from bucketsync.events import MalformedEventError, parse_message, parse_payload
from tests.events import load_event

Json = dict[str, object]
Edit = Callable[[Json], object]


def s3_object(event: Json) -> Json:
    return event["Records"][0]["s3"]["object"]  # type: ignore[index, no-any-return]


def record(event: Json) -> Json:
    return event["Records"][0]  # type: ignore[index, no-any-return]


def detail(event: Json) -> Json:
    return event["detail"]  # type: ignore[return-value]


def edited(name: str, edit: Edit) -> Json:
    event = copy.deepcopy(load_event(name))
    assert isinstance(event, dict)
    edit(event)
    return event


# (golden payload, edit, path of the error, words its reason contains)
S3_CASES: list[tuple[str, Edit, str, str]] = [
    ("s3_put", lambda e: s3_object(e).pop("key"), "Records[0].s3.object.key", "missing"),
    ("s3_put", lambda e: s3_object(e).update(key=""), "Records[0].s3.object.key", "empty"),
    ("s3_put", lambda e: s3_object(e).update(key=7), "Records[0].s3.object.key", "number"),
    ("s3_put", lambda e: s3_object(e).update(key="%FF.txt"), "Records[0].s3.object.key", "UTF-8"),
    (
        "s3_put",
        lambda e: s3_object(e).update(key="a\ud800b"),
        "Records[0].s3.object.key",
        "surrogate",
    ),
    ("s3_put", lambda e: s3_object(e).update(size=-1), "Records[0].s3.object.size", "negative"),
    ("s3_put", lambda e: s3_object(e).update(size=True), "Records[0].s3.object.size", "boolean"),
    ("s3_put", lambda e: s3_object(e).update(size=1.5), "Records[0].s3.object.size", "integer"),
    ("s3_put", lambda e: s3_object(e).update(size="12"), "Records[0].s3.object.size", "string"),
    (
        "s3_put",
        lambda e: s3_object(e).update(sequencer="xyz"),
        "Records[0].s3.object.sequencer",
        "hexadecimal",
    ),
    (
        "s3_put",
        lambda e: s3_object(e).update(sequencer="0A\n"),
        "Records[0].s3.object.sequencer",
        "hexadecimal",
    ),
    (
        "s3_put",
        lambda e: s3_object(e).update(sequencer="0" * 65),
        "Records[0].s3.object.sequencer",
        "64",
    ),
    (
        "s3_put",
        lambda e: s3_object(e).update(versionId=""),
        "Records[0].s3.object.versionId",
        "empty",
    ),
    ("s3_put", lambda e: s3_object(e).update(eTag=[]), "Records[0].s3.object.eTag", "array"),
    (
        "s3_put",
        lambda e: e["Records"][0]["s3"]["bucket"].pop("name"),  # type: ignore[index]
        "Records[0].s3.bucket.name",
        "missing",
    ),
    ("s3_put", lambda e: record(e).pop("s3"), "Records[0].s3", "object"),
    (
        "s3_put",
        lambda e: record(e).update(eventName="ObjectExploded:Put"),
        "Records[0].eventName",
        "unknown",
    ),
    (
        "s3_put",
        lambda e: record(e).update(eventName="ObjectCreated"),
        "Records[0].eventName",
        "after the colon",
    ),
    ("s3_put", lambda e: record(e).pop("eventTime"), "Records[0].eventTime", "missing"),
    (
        "s3_put",
        lambda e: record(e).update(eventTime="2026-11-23T10:00:00"),
        "Records[0].eventTime",
        "time zone",
    ),
    (
        "s3_put",
        lambda e: record(e).update(eventTime="yesterday"),
        "Records[0].eventTime",
        "ISO-8601",
    ),
    (
        "s3_put",
        lambda e: record(e).update(userIdentity="me"),
        "Records[0].userIdentity",
        "object",
    ),
    (
        "s3_put",
        lambda e: record(e).update(requestParameters={"sourceIPAddress": 1}),
        "Records[0].requestParameters.sourceIPAddress",
        "string",
    ),
    ("s3_put", lambda e: record(e).update(eventSource="minio:s3"), "Records[0].eventSource", ""),
    ("s3_put", lambda e: e.update(Records=[]), "Records", "empty"),
    ("s3_put", lambda e: e.update(Records={}), "Records", "array"),
    ("s3_put", lambda e: e.update(Records=[None]), "Records[0]", "null"),
    (
        "eventbridge_object_created",
        lambda e: detail(e)["object"].pop("key"),  # type: ignore[attr-defined]
        "detail.object.key",
        "missing",
    ),
    (
        "eventbridge_object_created",
        lambda e: detail(e)["object"].update(size=-5),  # type: ignore[attr-defined]
        "detail.object.size",
        "negative",
    ),
    ("eventbridge_object_created", lambda e: e.update(time=None), "time", "null"),
    ("eventbridge_object_created", lambda e: e.update(time=float("inf")), "time", "range"),
    ("eventbridge_object_created", lambda e: e.update(time=10**400), "time", "range"),
    ("eventbridge_object_created", lambda e: e.update(source="aws.ec2"), "source", "aws.s3"),
    ("eventbridge_object_created", lambda e: e.pop("detail"), "detail", "object"),
    (
        "eventbridge_object_created",
        lambda e: e.update({"detail-type": 3}),
        "detail-type",
        "string",
    ),
    ("s3_test_event", lambda e: e.update(Service="Amazon S4"), "Service", "Amazon S3"),
    (
        "sqs_lambda_s3",
        lambda e: record(e).update(body="{not json"),
        "Records[0].body",
        "not valid JSON",
    ),
    ("sqs_lambda_s3", lambda e: record(e).update(body=None), "Records[0].body", "null"),
    (
        "sqs_lambda_s3",
        lambda e: e["Records"][1].update(  # type: ignore[index]
            body=json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": 5}]})
        ),
        "Records[1].body>Records[0].eventName",
        "number",
    ),
    ("sns_sqs_body", lambda e: e.update(Type="SubscriptionConfirmation"), "Type", "SubscribeURL"),
    ("sns_sqs_body", lambda e: e.update(Message=""), "Message", "empty"),
    ("sns_sqs_body", lambda e: e.update(Message="[]"), "Message", "expected an object"),
    (
        "sns_sqs_body",
        lambda e: e.update(Message=json.dumps({"Records": [{"eventSource": "aws:s3"}]})),
        "Message>Records[0].eventName",
        "missing",
    ),
    (
        "sns_lambda_s3",
        lambda e: record(e)["Sns"].update(Type="Other"),  # type: ignore[attr-defined]
        "Records[0].Sns.Type",
        "Notification",
    ),
    ("sns_lambda_s3", lambda e: record(e).update(Sns="x"), "Records[0].Sns", "object"),
]


@pytest.mark.parametrize(("name", "edit", "path", "words"), S3_CASES)
def test_a_malformed_field_is_named_by_its_path(
    name: str, edit: Edit, path: str, words: str
) -> None:
    # GIVEN a golden payload with one field broken
    event = edited(name, edit)
    # WHEN it is parsed
    with pytest.raises(MalformedEventError) as caught:
        parse_payload(event)
    # THEN the error names the field and says what is wrong with it
    assert caught.value.path == path
    assert words in caught.value.reason
    assert str(caught.value).startswith(f"{path}: ")


BAD_BODIES: list[tuple[str | bytes, str]] = [
    ("", "not valid JSON"),
    ("{", "not valid JSON"),
    ("null", "expected an object"),
    ("[]", "expected an object"),
    ('"{}"', "expected an object"),
    ("{}", "not an S3 event"),
    ('{"Records": [1], "Records": NaN}', "NaN is not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("1" * 5000, "not valid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"Records": "\xc3"}', "not UTF-8"),
]


@pytest.mark.parametrize(("body", "words"), BAD_BODIES)
def test_a_body_that_is_not_an_event_is_malformed(body: str | bytes, words: str) -> None:
    # GIVEN a body that is not an S3 event in any envelope
    # WHEN it is parsed
    with pytest.raises(MalformedEventError) as caught:
        parse_message(body)
    # THEN the reason says why
    assert words in caught.value.reason


@pytest.mark.parametrize("body", [None, 12, {"Records": []}])
def test_parse_message_refuses_what_is_not_text(body: object) -> None:
    # GIVEN something that is not a str or bytes body
    # WHEN it is parsed as a message
    with pytest.raises(MalformedEventError) as caught:
        parse_message(body)  # type: ignore[arg-type]
    # THEN it is refused as such
    assert "expected JSON text" in caught.value.reason


def test_a_huge_value_is_described_without_being_printed() -> None:
    # GIVEN a record whose event name is a megabyte long
    event = edited("s3_put", lambda e: record(e).update(eventName="X" * 1_000_000))
    # WHEN it is parsed
    with pytest.raises(MalformedEventError) as caught:
        parse_payload(event)
    # THEN the message stays short enough for one log line
    assert len(str(caught.value)) < 200
