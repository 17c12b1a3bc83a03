"""Properties of the parser over generated input (hypothesis).

(a) Arbitrary JSON, text and bytes: a list of valid changes or MalformedEventError, nothing else.
(b) Golden payloads with one field dropped or replaced, anywhere, including inside the JSON
    carried by an SQS body or SNS Message: the same.
(c) Any key, encoded the way S3 encodes it, decodes back exactly; EventBridge keys pass as is.
(d) Sequencers are kept as sent when they are 1 to 64 hex digits, refused otherwise.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from urllib.parse import quote, quote_plus

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bucketsync.events import Change, ChangeKind, MalformedEventError, parse_message, parse_payload
from bucketsync.events.sequencer import sequencer_sort_key
from tests.events import event_names, load_event

FAST = settings(max_examples=100, deadline=None)

# Words the parser looks for, so generated JSON reaches past the first check now and then.
VOCABULARY = [
    "Records",
    "eventSource",
    "aws:s3",
    "aws:sqs",
    "EventSource",
    "aws:sns",
    "Sns",
    "body",
    "Message",
    "Type",
    "Notification",
    "eventName",
    "ObjectCreated:Put",
    "ObjectRemoved:Delete",
    "eventTime",
    "2026-11-23T10:00:00Z",
    "s3",
    "bucket",
    "name",
    "object",
    "key",
    "size",
    "sequencer",
    "source",
    "aws.s3",
    "detail-type",
    "Object Created",
    "detail",
    "time",
    "Event",
    "s3:TestEvent",
    "Service",
    "Amazon S3",
]
words = st.sampled_from(VOCABULARY) | st.text(max_size=10)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | words
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(words, inner, max_size=5),
    max_leaves=25,
)
NO_SURROGATES = st.characters(exclude_categories=["Cs"])


def check_outcome(parse: Callable[[], list[Change]]) -> list[Change]:
    """Run ``parse``: it returns valid changes or raises MalformedEventError, nothing else."""
    try:
        changes = parse()
    except MalformedEventError as exc:
        assert isinstance(exc.reason, str)
        assert isinstance(exc.path, str)
        return []
    assert isinstance(changes, list)
    for change in changes:
        assert isinstance(change, Change)
        assert isinstance(change.bucket, str) and change.bucket
        assert isinstance(change.key, str) and change.key
        assert change.kind in (ChangeKind.CREATED, ChangeKind.REMOVED)
        assert change.event_time is None or change.event_time.utcoffset() is not None
        assert change.size is None or (type(change.size) is int and change.size >= 0)
        if change.sequencer is not None:
            sequencer_sort_key(change.sequencer)
        assert change.delete_marker is False or change.kind is ChangeKind.REMOVED
    return changes


@FAST
@given(json_values)
def test_any_json_value_is_parsed_or_refused_cleanly(value: object) -> None:
    # GIVEN any JSON value
    # WHEN it is parsed decoded and as text
    # THEN each way yields valid changes or MalformedEventError, never another exception
    check_outcome(lambda: parse_payload(value))
    check_outcome(lambda: parse_message(json.dumps(value)))


@FAST
@given(json_values, st.sampled_from(["s3", "sqs", "sns", "eventbridge"]))
def test_any_json_inside_a_plausible_envelope_is_parsed_or_refused_cleanly(
    value: object, wrapper: str
) -> None:
    # GIVEN any JSON value in the place where an envelope expects its content
    envelopes: dict[str, object] = {
        "s3": {"Records": [value]},
        "sqs": {"Records": [{"eventSource": "aws:sqs", "body": json.dumps(value)}]},
        "sns": {"Type": "Notification", "Message": json.dumps(value)},
        "eventbridge": {"source": "aws.s3", "detail-type": "Object Created", "detail": value},
    }
    # WHEN it is parsed
    # THEN valid changes or MalformedEventError, nothing else
    check_outcome(lambda: parse_payload(envelopes[wrapper]))


@FAST
@given(st.text() | st.binary())
def test_any_text_or_bytes_is_parsed_or_refused_cleanly(body: str | bytes) -> None:
    # GIVEN any text or bytes as a message body
    # WHEN it is parsed
    # THEN valid changes or MalformedEventError, nothing else
    check_outcome(lambda: parse_message(body))


# --- (b) mutated golden payloads ---------------------------------------------------------------

EMBEDDED = "<json>"
Step = str | int
GOLDEN = {name: load_event(name) for name in event_names()}


def paths(value: object, prefix: tuple[Step, ...] = ()) -> list[tuple[Step, ...]]:
    """Every node's path; a string that holds a JSON object is descended into as well."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    elif isinstance(value, str) and value.startswith("{"):
        # [1:]: the embedded document's root is the string itself, already listed.
        found += paths(json.loads(value), (*prefix, EMBEDDED))[1:]
    return found


def mutate(value: object, path: tuple[Step, ...], replacement: object, drop: bool) -> object:
    step, rest = path[0], path[1:]
    if step == EMBEDDED:
        assert isinstance(value, str)
        return json.dumps(mutate(json.loads(value), rest, replacement, drop))
    copied = copy.copy(value)
    assert isinstance(copied, dict | list)
    if rest:
        copied[step] = mutate(copied[step], rest, replacement, drop)  # type: ignore[index]
    elif drop:
        del copied[step]  # type: ignore[arg-type]
    else:
        copied[step] = replacement  # type: ignore[index]
    return copied


GOLDEN_PATHS = {name: paths(value) for name, value in GOLDEN.items()}


@settings(max_examples=200, deadline=None)
@given(st.data(), st.sampled_from(sorted(GOLDEN)), st.booleans(), json_values)
def test_a_golden_payload_with_any_field_dropped_or_replaced_is_handled_cleanly(
    data: st.DataObject, name: str, drop: bool, replacement: object
) -> None:
    # GIVEN a golden payload with one node, at any depth, dropped or replaced by any JSON
    path = data.draw(st.sampled_from(GOLDEN_PATHS[name]), label="path")
    event = mutate(GOLDEN[name], path, replacement, drop)
    # WHEN it is parsed decoded and as text
    # THEN valid changes or MalformedEventError, nothing else
    check_outcome(lambda: parse_payload(event))
    check_outcome(lambda: parse_message(json.dumps(event)))


# --- (c) keys ----------------------------------------------------------------------------------

keys = st.text(alphabet=NO_SURROGATES, min_size=1, max_size=60)


def with_key(name: str, place: Callable[[dict[str, object]], dict[str, object]], key: str) -> str:
    event = copy.deepcopy(GOLDEN[name])
    assert isinstance(event, dict)
    place(event)["key"] = key
    return json.dumps(event)


def s3_object(event: dict[str, object]) -> dict[str, object]:
    return event["Records"][0]["s3"]["object"]  # type: ignore[index, no-any-return]


def eventbridge_object(event: dict[str, object]) -> dict[str, object]:
    return event["detail"]["object"]  # type: ignore[index, no-any-return]


@FAST
@given(keys)
@example("a b+c.txt")
@example("100%25 literally.txt")
@example("dir/sub dir/caf\u00e9.txt")
def test_a_key_encoded_like_s3_or_moto_decodes_back_exactly(key: str) -> None:
    # GIVEN a key encoded as moto does (quote_plus, "/" too) and as S3 does ("/" left alone)
    moto_body = with_key("s3_put", s3_object, quote_plus(key))
    aws_body = with_key("s3_put", s3_object, quote_plus(key, safe="/"))
    # WHEN each notification is parsed
    from_moto = parse_message(moto_body)
    from_aws = parse_message(aws_body)
    # THEN both give back the key itself, decoded exactly once
    assert from_moto[0].key == key
    assert from_aws[0].key == key


@FAST
@given(keys)
def test_a_percent_encoded_space_decodes_like_a_plus(key: str) -> None:
    # GIVEN a key percent-encoded with %20 for spaces rather than +
    body = with_key("s3_put", s3_object, quote(key, safe=""))
    # WHEN it is parsed
    # THEN it decodes to the same key
    assert parse_message(body)[0].key == key


@FAST
@given(keys)
@example("my file+v2 100%.txt")
@example("a%2Bb")
def test_an_eventbridge_key_is_taken_as_sent(key: str) -> None:
    # GIVEN an EventBridge event carrying a raw key
    body = with_key("eventbridge_object_created", eventbridge_object, key)
    # WHEN it is parsed
    # THEN the key is not decoded at all
    assert parse_message(body)[0].key == key


# --- (d) sequencers ----------------------------------------------------------------------------

HEX = re.compile(r"[0-9A-Fa-f]{1,64}")


def with_sequencer(sequencer: str) -> str:
    event = copy.deepcopy(GOLDEN["s3_put"])
    assert isinstance(event, dict)
    s3_object(event)["sequencer"] = sequencer
    return json.dumps(event)


@FAST
@given(st.text(max_size=70))
@example("")
@example("0A\n")
@example("0" * 65)
@example("\u0661\u0662")  # Arabic-Indic digits: str.isdigit() but not hexadecimal
def test_a_sequencer_is_kept_if_hexadecimal_and_refused_otherwise(sequencer: str) -> None:
    # GIVEN a notification whose sequencer is any string
    body = with_sequencer(sequencer)
    # WHEN it is parsed
    try:
        changes = parse_message(body)
    except MalformedEventError as exc:
        # THEN a refusal names the field, and only non-hex sequencers are refused
        assert exc.path == "Records[0].s3.object.sequencer"
        assert not HEX.fullmatch(sequencer)
        return
    # THEN an accepted sequencer is hexadecimal and kept exactly as sent
    assert HEX.fullmatch(sequencer)
    assert changes[0].sequencer == sequencer


@FAST
@given(st.from_regex(HEX, fullmatch=True))
def test_every_hexadecimal_sequencer_is_accepted_unchanged(sequencer: str) -> None:
    # GIVEN a notification with a 1 to 64 digit hex sequencer, any case
    body = with_sequencer(sequencer)
    # WHEN it is parsed
    changes = parse_message(body)
    # THEN the sequencer is kept as sent
    assert changes[0].sequencer == sequencer
