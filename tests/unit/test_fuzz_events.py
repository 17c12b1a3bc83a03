"""Fuzzing the event parsers (issue 15): MalformedEventError or valid changes, nothing else.

Goes past ``test_events_properties.py`` (one field of a golden payload dropped or replaced, any
small JSON, any text):

* the golden payloads of ``tests/events`` and payloads built from the envelope grammar take
  several structural mutations at once: fields dropped, renamed or added, wrong types, huge and
  negative numbers, odd %-encoded keys, objects turned into JSON text and JSON text into
  objects, envelopes wrapped around any part, JSON-text bombs where SNS and SQS carry text;
* their bytes are mutated (flips, truncation, splices, NaN, BOMs, invalid UTF-8);
* every payload is parsed three ways (decoded, as text, as bytes) that must agree;
* oracles: the grammar's payloads give exactly the changes built into them (refused only when
  nested past ``MAX_DEPTH``); keys are decoded exactly once, in every envelope; sizes are kept
  when storable and refused otherwise.

Every parsed change must hold what the sinks rely on (:func:`assert_valid`).
Examples per test are sized for the unit run; ``FUZZ_EXAMPLES=20000`` sets every test here to
that many for a long run.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import cast
from urllib.parse import quote, quote_plus, unquote_plus

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bucketsync.events import Change, ChangeKind, MalformedEventError, parse_message, parse_payload
from bucketsync.events.envelopes import MAX_DEPTH
from tests.events import event_names, event_text, load_event


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


# --- mutating a payload ----------------------------------------------------------------------

IN_JSON = "<json>"  # a path step into the JSON document a string carries
Step = str | int
Path = tuple[Step, ...]
GOLDEN = {name: load_event(name) for name in event_names()}


def carried(value: object) -> object | None:
    """The object or array a string carries as JSON text, if it does."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            decoded: object = json.loads(value)
        except (ValueError, RecursionError):
            return None
        return decoded if isinstance(decoded, dict | list) else None
    return None


def paths(value: object, prefix: Path = ()) -> list[Path]:
    """Every node's path, the root's (``()``) first, through JSON text carried in strings."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    elif (inner := carried(value)) is not None:
        found += paths(inner, (*prefix, IN_JSON))[1:]
    return found


DROP = object()


def edit(value: object, path: Path, change: Callable[[object], object]) -> object:
    """A copy of ``value`` with the node at ``path`` changed (or dropped, if DROP comes back)."""
    if not path:
        return change(value)
    step, rest = path[0], path[1:]
    if step == IN_JSON:
        assert isinstance(value, str)
        return json.dumps(edit(json.loads(value), rest, change))
    copied = copy.copy(value)
    assert isinstance(copied, dict | list)
    new = edit(copied[step], rest, change) if rest else change(copied[step])  # type: ignore[index]
    if new is DROP:
        del copied[step]  # type: ignore[arg-type]
    else:
        copied[step] = new  # type: ignore[index]
    return copied


def rewrite(value: object, change: Callable[[str, object], object]) -> object:
    """Every ``(name, member)`` of every object, through carried JSON, put through ``change``."""
    if isinstance(value, dict):
        return {name: change(name, rewrite(member, change)) for name, member in value.items()}
    if isinstance(value, list):
        return [rewrite(member, change) for member in value]
    if (inner := carried(value)) is not None:
        return json.dumps(rewrite(inner, change))
    return value


# Pieces of keys: every way S3 and moto encode, and ways they never would.
KEY_PIECES = [
    *"aZ09/._-~ +%",
    "%2F",
    "%2B",
    "%20",
    "%25",
    "%3A",
    "%C3%A9",
    "%E5%90%8D",
    "%F0%9F%98%80",
    "%FF",
    "%C3",
    "%ED%A0%80",  # an encoded surrogate: not UTF-8
    "%00",
    "%0A",
    "%G1",
    "%2",
    "\u00e9",
    "\u540d",
    "\U0001f600",
    "\ud800",
    "\x00",
    "\n",
]
KEYS = st.lists(st.sampled_from(KEY_PIECES), max_size=12).map("".join)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=MAX_SIZE - 2, max_value=MAX_SIZE + 2),
    st.sampled_from([0, -1, -(2**63), 2**64, 10**38, 10**39, 10**400, -(10**400)]),
    st.floats(),
    st.booleans(),
)
TIMES = st.one_of(
    st.datetimes().map(datetime.isoformat),
    st.sampled_from(
        [
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:00:00.123456+05:30",
            "2026-11-23T10:00:00",
            "2026-11-23",
            "0001-01-01T00:00:00+00:00",
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59-23:59",
            "2026-02-30T00:00:00Z",
            "2026-11-23T10:00:00+24:00",
            "2026-11-23T10:00:00.1234567Z",
            "",
            "\ud800",
        ]
    ),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{0,15}(Z|[+-][0-9:]{0,8})?\Z"),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(),
)
NAMES = st.sampled_from(
    [
        "ObjectCreated:Put",
        "ObjectCreated:",
        "ObjectCreated",
        "ObjectRemoved:DeleteMarkerCreated",
        "LifecycleExpiration:Delete",
        "ObjectTagging:Put",
        "ObjectRestore:Completed",
        "objectcreated:Put",
        "Object Created",
        "Object Deleted",
        "Object Restore Completed",
        "Delete Marker Created",
        "Lifecycle Expiration",
        "Permanently Deleted",
        "PutObject",
        ":",
        "",
    ]
) | st.text(max_size=12)
WORDS = st.sampled_from(
    [
        "Records",
        "records",
        "eventSource",
        "EventSource",
        "aws:s3",
        "aws:sqs",
        "aws:sns",
        "aws.s3",
        "body",
        "Sns",
        "Message",
        "Type",
        "Notification",
        "SubscriptionConfirmation",
        "detail-type",
        "detail",
        "source",
        "s3",
        "object",
        "bucket",
        "name",
        "key",
        "size",
        "sequencer",
        "Event",
        "s3:TestEvent",
        "Service",
        "Amazon S3",
    ]
)
GOLDEN_TEXTS = st.sampled_from(sorted(GOLDEN)).map(event_text)


def bomb(draw: st.DrawFn) -> str:
    """JSON text built to hurt a decoder: deep nesting, digit bombs, constants, a BOM."""
    depth = draw(st.sampled_from([2, 100, 1000, 5000, 100_000]))
    return draw(
        st.sampled_from(
            [
                "[" * depth + "]" * depth,
                '{"a":' * depth + "1" + "}" * depth,
                "[" * depth,
                "1" * 4301,
                "-" + "9" * 5000,
                '{"size": ' + "1" * 4400 + "}",
                '{"size": 1e999999999}',
                "NaN",
                '{"Records": [Infinity]}',
                "\ufeff{}",
                '{"a": "\\ud800"}',
                '{"Records": "[]"}',
            ]
        )
    )


SCALARS = st.one_of(
    st.none(), NUMBERS, WORDS, KEYS, TIMES, NAMES, st.text(max_size=8), GOLDEN_TEXTS
)
HOSTILE = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(WORDS | st.text(), inner, max_size=3)
    ),
    max_leaves=8,
)


def wrap(draw: st.DrawFn, value: object) -> object:
    """``value`` as JSON text inside an envelope that carries text."""
    text = json.dumps(value)
    how = draw(st.sampled_from(["sns", "lambda_sqs", "lambda_sns"]))
    if how == "sns":
        return {"Type": "Notification", "Message": text}
    if how == "lambda_sqs":
        return {"Records": [{"eventSource": "aws:sqs", "body": text}]}
    return {
        "Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": text}}]
    }


def mutation(draw: st.DrawFn, node: object) -> object:
    """One structural change to ``node``: the replacement, or DROP."""
    what = draw(
        st.sampled_from(
            [
                "drop",
                "hostile",
                "stringify",
                "decode",
                "add",
                "rename",
                "grow",
                "key",
                "number",
                "time",
                "name",
                "wrap",
                "nest",
                "bomb",
                "empty",
            ]
        )
    )
    if what == "drop":
        return DROP
    if what == "stringify":  # a string where an object (or anything) is expected
        return json.dumps(node)
    if what == "decode":  # an object where a string of JSON is expected
        inner = carried(node)
        return node if inner is None else inner
    if what == "add" and isinstance(node, dict):
        return {**node, draw(WORDS | st.text(max_size=6)): draw(HOSTILE)}
    if what == "rename" and isinstance(node, dict) and node:
        old = draw(st.sampled_from(sorted(node)))
        new = draw(st.sampled_from([old.lower(), old.upper(), old + " ", quote(old), ""]))
        return {(new if name == old else name): member for name, member in node.items()}
    if what == "grow":
        if isinstance(node, list):
            return node * draw(st.integers(0, 3))
        if isinstance(node, str):
            return node * draw(st.integers(0, 3)) + draw(st.text(max_size=4))
    if what == "key":
        return draw(KEYS)
    if what == "number":
        return draw(NUMBERS)
    if what == "time":
        return draw(TIMES)
    if what == "name":
        return draw(NAMES)
    if what == "wrap":
        return wrap(draw, node)
    if what == "nest":
        depth = draw(st.integers(1, 60))
        for _ in range(depth):
            node = draw(st.sampled_from([[node], {"Records": node}, {"detail": node}]))
        return node
    if what == "bomb":
        return bomb(draw)
    if what == "empty":  # of the same type: [], {}, "", 0
        return type(node)() if isinstance(node, list | dict | str | int | float) else None
    return draw(HOSTILE)


@st.composite
def mutated(draw: st.DrawFn, start: object) -> object:
    event = start
    for _ in range(draw(st.integers(1, 6))):
        path = draw(st.sampled_from(paths(event)))
        if not path:  # the root cannot be dropped
            event = wrap(draw, event) if draw(st.booleans()) else draw(HOSTILE)
            continue
        event = edit(event, path, lambda node: mutation(draw, node))
    return event


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


# --- the tests -------------------------------------------------------------------------------


@fuzz(150)
@given(grammar())
def test_payloads_built_from_the_envelope_grammar_give_exactly_their_changes(
    built: tuple[object, Expected, int],
) -> None:
    # GIVEN a payload of envelopes nested in any order, as deep as MAX_DEPTH and past it
    payload, expected, peels = built
    # WHEN it is parsed, decoded, as text and as bytes
    result = parse_every_way(payload)
    # THEN it gives the changes built into it, keys decoded once, refused only when too deep
    if peels > MAX_DEPTH:
        assert isinstance(result, MalformedEventError)
        assert "nested more than" in result.reason
    else:
        assert not isinstance(result, MalformedEventError), result
        assert [(c.bucket, c.key, c.kind) for c in result] == expected


@fuzz(300)
@given(st.data(), st.sampled_from(sorted(GOLDEN)))
def test_golden_payloads_mutated_many_ways_at_once_are_parsed_or_refused_cleanly(
    data: st.DataObject, name: str
) -> None:
    # GIVEN a golden payload with up to six structural mutations anywhere, in carried JSON too
    event = data.draw(mutated(GOLDEN[name]), label="event")
    # WHEN it is parsed decoded, as text and as bytes
    # THEN valid changes or MalformedEventError, the same every way
    parse_every_way(event)


@fuzz(150)
@given(st.data(), grammar())
def test_grammar_payloads_mutated_are_parsed_or_refused_cleanly(
    data: st.DataObject, built: tuple[object, Expected, int]
) -> None:
    # GIVEN a payload from the envelope grammar, mutated
    event = data.draw(mutated(built[0]), label="event")
    # WHEN it is parsed
    # THEN valid changes or MalformedEventError, the same every way
    parse_every_way(event)


BYTE_TOKENS = [
    b"NaN",
    b"-Infinity",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"\\ud800",
    b"\\",
    b'"',
    b",",
    b"}",
    b"]",
    b"{",
    b"[" * 3000,
    b"9" * 4301,
    b"1e999",
    b"\x00",
    b"%",
    b"+",
]


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(GOLDEN_TEXTS).encode())
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(data)))
        what = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice"]))
        if what == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif what == "insert":
            data[at:at] = draw(st.sampled_from(BYTE_TOKENS) | st.binary(min_size=1, max_size=4))
        elif what == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif what == "truncate":
            del data[at:]
        elif what == "splice":
            other = draw(GOLDEN_TEXTS).encode()
            start = draw(st.integers(0, len(other)))
            data[at:] = other[start:]
    encoding = draw(st.sampled_from(["raw", "raw", "raw", "utf-16", "utf-8-sig", "latin-1"]))
    if encoding == "raw":
        return bytes(data)
    return bytes(data).decode("utf-8", "replace").encode(encoding, "replace")


@fuzz(400)
@given(mutated_bytes())
@example(b'{"Records": [{"eventSource": "aws:sqs", "body": "' + b"[" * 100_000 + b'"}]}')
@example(b'{"Type": "Notification", "Message": "{\\"Records\\": [NaN]}"}')
def test_golden_bodies_with_mutated_bytes_are_parsed_or_refused_cleanly(body: bytes) -> None:
    # GIVEN a golden message body with bytes flipped, inserted, deleted, truncated, spliced
    # WHEN it is parsed as bytes and, if it is UTF-8, as text
    result = message_outcome(body)
    # THEN valid changes or MalformedEventError, the same both ways
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        assert isinstance(result, MalformedEventError)
        return
    assert same(message_outcome(text), result)


NOTIFICATION_KEYED = [
    name
    for name in sorted(GOLDEN)
    if '"key' in json.dumps(GOLDEN[name]) and "eventbridge" not in name
]
EVENTBRIDGE_KEYED = [name for name in sorted(GOLDEN) if "eventbridge" in name]


def with_all(event: object, field: str, within: str, value: object) -> object:
    """``event`` with ``field`` of every ``within`` object set to ``value``, in carried JSON too."""

    def change(name: str, member: object) -> object:
        if name == within and isinstance(member, dict) and field in member:
            return {**member, field: value}
        return member

    return rewrite(event, change)


@fuzz(200)
@given(st.sampled_from(NOTIFICATION_KEYED + EVENTBRIDGE_KEYED), KEYS | RAW_KEYS)
@example("s3_put", "%ED%A0%80")
@example("sqs_lambda_s3", "a+b%2Bc%20d")
@example("sns_lambda_s3", "%")
@example("moto_eventbridge_sqs_body", "a+b%2B")
def test_a_key_is_decoded_exactly_once_in_every_envelope(name: str, raw: str) -> None:
    # GIVEN a golden payload whose every object key is ``raw``, however deep it is carried
    event = with_all(GOLDEN[name], "key", "object", raw)
    notification = name in NOTIFICATION_KEYED
    try:
        expected = unquote_plus(raw, errors="strict") if notification else raw
        refused = not raw or not storable(raw)
    except UnicodeDecodeError:
        expected, refused = "", True
    # WHEN it is parsed
    result = parse_every_way(event)
    # THEN a notification's key is %-decoded once ("+" is a space), an EventBridge key is kept;
    # a key that is empty or not UTF-8 either way is refused at the key
    if isinstance(result, MalformedEventError):
        assert refused, result
        assert result.path.endswith(".key")
        return
    assert all(change.key == expected for change in result)
    assert not refused or not result  # only an event skipped before its key is read


@fuzz(200)
@given(st.sampled_from(NOTIFICATION_KEYED + EVENTBRIDGE_KEYED), NUMBERS | st.none() | TIMES)
def test_a_size_is_kept_if_a_storable_non_negative_integer_and_refused_otherwise(
    name: str, size: object
) -> None:
    # GIVEN a golden payload whose every object size is ``size``
    event = with_all(GOLDEN[name], "size", "object", size)
    # WHEN it is parsed
    result = parse_every_way(event)
    # THEN only an integer from 0 to 2**63 - 1 (or none) is kept, and kept exactly
    good = size is None or (type(size) is int and 0 <= size <= MAX_SIZE)
    if isinstance(result, MalformedEventError):
        assert not good, result
        # NaN and infinities cannot be carried in JSON text: refused where the text is
        assert result.path.endswith(".size") or "is not valid JSON" in result.reason, result
        return
    sized = [change for change in result if change.size is not None]
    assert all(change.size == size for change in sized)
    assert good or not sized


NAME_FIELDS = ["eventName", "detail-type", "reason", "deletion-type"]


@fuzz(200)
@given(
    st.sampled_from(sorted(GOLDEN)),
    st.sampled_from(["eventTime", "time", *NAME_FIELDS]),
    TIMES | NAMES | NUMBERS | st.none(),
)
def test_any_time_or_event_name_is_taken_valid_or_refused_at_its_field(
    name: str, field: str, value: object
) -> None:
    # GIVEN a golden payload whose every ``field`` (wherever it is, carried JSON too) is ``value``
    def change(member_name: str, member: object) -> object:
        if isinstance(member, dict) and field in member:
            return {**member, field: value}
        return member

    event = rewrite({"_": GOLDEN[name]}, change)
    assert isinstance(event, dict)
    # WHEN it is parsed
    result = parse_every_way(event["_"])
    # THEN the changes are valid (aware times, known event names), or the field is named; a
    # name may also make a skipped event one that is read, and refused for another field
    if isinstance(result, MalformedEventError) and field not in NAME_FIELDS:
        assert result.path.endswith(field) or "is not valid JSON" in result.reason, result


@fuzz(60)
@given(
    depth=st.integers(1, 200_000),
    opener=st.sampled_from(["[", '{"a":', '{"Records":', '["', "{"]),
    place=st.sampled_from(["body", "sqs", "sns", "lambda_sns"]),
)
@example(depth=100_000, opener="[", place="sns")
def test_json_text_nested_deeply_is_refused_wherever_text_is_carried(
    depth: int, opener: str, place: str
) -> None:
    # GIVEN JSON text nested ``depth`` deep, as a body or carried by SQS or SNS
    text = opener * depth
    carriers: dict[str, Callable[[str], object]] = {
        "sqs": lambda t: {"Records": [{"eventSource": "aws:sqs", "body": t}]},
        "sns": lambda t: {"Type": "Notification", "Message": t},
        "lambda_sns": lambda t: {
            "Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": t}}]
        },
    }
    # WHEN it is parsed
    if place == "body":
        result = outcome(lambda: parse_message(text))
    else:
        result = outcome(lambda: parse_payload(carriers[place](text)))
    # THEN MalformedEventError (never RecursionError or a crash)
    assert isinstance(result, MalformedEventError)


# --- bugs the fuzzing found, kept as examples ------------------------------------------------


@pytest.mark.parametrize("size", [2**63, 10**39, 10**400], ids=["2**63", "10**39", "10**400"])
@pytest.mark.parametrize("name", ["s3_put", "eventbridge_object_created"])
def test_a_size_no_s3_object_can_have_is_refused(name: str, size: int) -> None:
    # GIVEN an event whose size DynamoDB cannot store (boto3 raised decimal.Rounded in the sink)
    event = with_all(GOLDEN[name], "size", "object", size)
    # WHEN it is parsed
    # THEN it is refused at the size, so it is dead-lettered rather than failing in a sink
    with pytest.raises(MalformedEventError) as caught:
        parse_payload(event)
    assert caught.value.path.endswith("object.size")


def test_the_largest_storable_size_is_kept() -> None:
    event = with_all(GOLDEN["s3_put"], "size", "object", MAX_SIZE)
    assert parse_payload(event)[0].size == MAX_SIZE
