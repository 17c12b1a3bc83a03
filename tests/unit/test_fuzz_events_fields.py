"""Fuzzing the event parsers (issue 15): one field of every golden payload set to anything
(``event_fuzzing.py`` has the oracle, ``event_mutations.py`` the values drawn).

* oracles: keys are decoded exactly once, in every envelope; sizes are kept when storable and
  refused otherwise; times and event names are taken valid or refused at their field.
"""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bucketsync.events import MalformedEventError, parse_payload
from tests.unit.event_fuzzing import MAX_SIZE, RAW_KEYS, fuzz, parse_every_way, storable
from tests.unit.event_mutations import GOLDEN, KEYS, NAMES, NUMBERS, TIMES, rewrite

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
