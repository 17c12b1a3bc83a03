"""Fuzzing the event parsers (issue 15): what every fuzzing test of ``test_fuzz_events_*.py``
holds a parse to, and the envelope grammar, whose payloads carry the changes built into them.

* every payload is parsed three ways (decoded, as text, as bytes) that must agree
  (``parse_every_way``): MalformedEventError or valid changes, nothing else;
* the grammar nests envelopes in any order, as deep as ``MAX_DEPTH`` and past it.

Every parsed change must hold what the sinks rely on (:func:`assert_valid`).
Examples per test are sized for the unit run; ``FUZZ_EXAMPLES=20000`` sets every test of
``test_fuzz_events_*.py`` to that many for a long run.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import cast
from urllib.parse import quote_plus

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bucketsync.events import Change, ChangeKind, MalformedEventError, parse_message, parse_payload
from bucketsync.events.envelopes import MAX_DEPTH


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=int(os.environ.get("FUZZ_EXAMPLES") or examples),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- what a parsed change must be ------------------------------------------------------------

FAMILIES = {
    "ObjectCreated": ChangeKind.CREATED,
    "ObjectRemoved": ChangeKind.REMOVED,
    "LifecycleExpiration": ChangeKind.REMOVED,
}
HEX = re.compile(r"[0-9A-Fa-f]{1,64}")
MAX_SIZE = 2**63 - 1  # S3's Content-Length is a signed 64-bit integer; DynamoDB keeps 38 digits


def storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def assert_valid(change: Change) -> None:
    """What the sinks rely on: each field of the promised type, storable as UTF-8."""
    assert type(change) is Change
    for name in ("bucket", "key", "event_name"):
        value = getattr(change, name)
        assert type(value) is str and value and storable(value), (name, value)
    for name in ("sequencer", "version_id", "etag", "requester", "source_ip", "request_id"):
        value = getattr(change, name)
        assert value is None or (type(value) is str and storable(value)), (name, value)
    assert change.region is None or (type(change.region) is str and storable(change.region))
    assert change.version_id != ""
    assert change.etag is None or (change.etag and not change.etag.startswith('"'))
    assert change.etag is None or not change.etag.endswith('"')
    assert change.sequencer is None or HEX.fullmatch(change.sequencer)
    assert change.size is None or (type(change.size) is int and 0 <= change.size <= MAX_SIZE)
    assert change.event_time is None or (
        type(change.event_time) is datetime and change.event_time.utcoffset() is not None
    )
    family = change.event_name.partition(":")[0]
    assert FAMILIES.get(family) is change.kind, change.event_name
    assert type(change.delete_marker) is bool
    assert not change.delete_marker or change.kind is ChangeKind.REMOVED


Outcome = list[Change] | MalformedEventError


def outcome(parse: Callable[[], list[Change]]) -> Outcome:
    """Valid changes, or the MalformedEventError raised; any other exception fails the test."""
    try:
        changes = parse()
    except MalformedEventError as exc:
        assert type(exc.reason) is str and exc.reason
        assert type(exc.path) is str
        assert str(exc)
        return exc
    assert type(changes) is list
    for change in changes:
        assert_valid(change)
    return changes


def same(a: Outcome, b: Outcome) -> bool:
    if isinstance(a, MalformedEventError) and isinstance(b, MalformedEventError):
        return (a.path, a.reason) == (b.path, b.reason)
    return a == b


def parse_every_way(event: object) -> Outcome:
    """Parsed decoded, as JSON text, as UTF-8 bytes: the three must agree."""
    decoded = outcome(lambda: parse_payload(event))
    try:
        text = json.dumps(event, allow_nan=False)
    except ValueError:  # NaN or infinity (which text must refuse), or an int past 4300 digits
        try:
            text = json.dumps(event)
        except ValueError:
            return decoded
        assert isinstance(outcome(lambda: parse_message(text)), MalformedEventError)
        return decoded
    # bytearray too: what the signature calls bytes, the parser takes in any of its forms
    bodies: list[str | bytes] = [text, text.encode(), cast(bytes, bytearray(text.encode()))]
    loose = json.dumps(event, ensure_ascii=False)
    bodies.append(loose)
    if storable(loose):
        bodies.append(loose.encode())
    for body in bodies:
        assert same(message_outcome(body), decoded), body
    return decoded


def message_outcome(body: str | bytes) -> Outcome:
    return outcome(lambda: parse_message(body))


# --- the envelope grammar, with the changes built into each payload ---------------------------

Expected = list[tuple[str, str, ChangeKind]]
BUCKETS = st.from_regex(r"\A[a-z0-9][a-z0-9.-]{2,20}\Z")
RAW_KEYS = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)
S3_NAMES = {
    "ObjectCreated:Put": ChangeKind.CREATED,
    "ObjectCreated:CompleteMultipartUpload": ChangeKind.CREATED,
    "ObjectRemoved:Delete": ChangeKind.REMOVED,
    "ObjectRemoved:DeleteMarkerCreated": ChangeKind.REMOVED,
    "LifecycleExpiration:Delete": ChangeKind.REMOVED,
    "ObjectTagging:Put": None,
    "ObjectRestore:Completed": None,
}
DETAIL_TYPES = {
    "Object Created": ChangeKind.CREATED,
    "Object Deleted": ChangeKind.REMOVED,
    "Object Restore Completed": None,
    "Object Tags Added": None,
}
OPTIONAL_SIZES = st.none() | st.integers(0, MAX_SIZE)
SEQUENCERS = st.none() | st.from_regex(HEX, fullmatch=True)


def s3_record(draw: st.DrawFn, expected: Expected) -> dict[str, object]:
    name = draw(st.sampled_from(sorted(S3_NAMES)))
    bucket, key = draw(BUCKETS), draw(RAW_KEYS)
    kind = S3_NAMES[name]
    if kind is not None:
        expected.append((bucket, key, kind))
    obj: dict[str, object] = {"key": quote_plus(key, safe=draw(st.sampled_from(["", "/"])))}
    if (size := draw(OPTIONAL_SIZES)) is not None:
        obj["size"] = size
    if (sequencer := draw(SEQUENCERS)) is not None:
        obj["sequencer"] = sequencer
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": draw(st.sampled_from(["2026-11-23T10:00:00.000Z", "2026-01-01T00:00:00Z"])),
        "eventName": name,
        "s3": {"bucket": {"name": bucket}, "object": obj},
    }


def leaf(draw: st.DrawFn) -> tuple[object, Expected]:
    expected: Expected = []
    what = draw(st.sampled_from(["s3", "eventbridge", "test"]))
    if what == "test":
        return {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}, expected
    if what == "s3":
        records = [s3_record(draw, expected) for _ in range(draw(st.integers(1, 3)))]
        return {"Records": records}, expected
    detail_type = draw(st.sampled_from(sorted(DETAIL_TYPES)))
    bucket, key = draw(BUCKETS), draw(RAW_KEYS)
    if (kind := DETAIL_TYPES[detail_type]) is not None:
        expected.append((bucket, key, kind))
    obj: dict[str, object] = {"key": key}
    if (size := draw(OPTIONAL_SIZES)) is not None:
        obj["size"] = size
    event = {
        "detail-type": detail_type,
        "source": "aws.s3",
        "time": draw(st.sampled_from(["2026-11-23T10:00:00Z", 1_790_000_000])),
        "detail": {"bucket": {"name": bucket}, "object": obj},
    }
    return event, expected


def envelope(draw: st.DrawFn, budget: int) -> tuple[object, Expected, int]:
    """A payload, its changes, and how many JSON texts must be peeled to reach them all."""
    if budget == 0 or draw(st.integers(0, 2)) == 0:
        value, expected = leaf(draw)
        return value, expected, 0
    how = draw(st.sampled_from(["sns", "lambda_sqs", "lambda_sns"]))
    if how == "lambda_sqs":
        parts = [envelope(draw, budget - 1) for _ in range(draw(st.integers(1, 3)))]
        records = [{"eventSource": "aws:sqs", "body": json.dumps(v)} for v, _, _ in parts]
        expected = [change for _, changes, _ in parts for change in changes]
        return {"Records": records}, expected, 1 + max(peels for _, _, peels in parts)
    inner, expected, peels = envelope(draw, budget - 1)
    notification = {"Type": "Notification", "MessageId": "m", "Message": json.dumps(inner)}
    if how == "sns":
        return notification, expected, peels + 1
    return {"Records": [{"EventSource": "aws:sns", "Sns": notification}]}, expected, peels + 1


@st.composite
def grammar(draw: st.DrawFn) -> tuple[object, Expected, int]:
    return envelope(draw, draw(st.integers(0, MAX_DEPTH + 2)))
