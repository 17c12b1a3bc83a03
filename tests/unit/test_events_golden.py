"""Every golden payload in tests/events, parsed and checked field by field against a table.

The table is written from the payloads by hand (not captured from the parser), so a change in
parsing shows up here as a named field of a named file.

The table is in two parts: the S3 notifications (``golden_s3_changes.py``) and what SQS, SNS
and EventBridge deliver (``golden_envelope_changes.py``).
"""

from __future__ import annotations

from dataclasses import fields

import pytest

from bucketsync.events import Change, parse_message, parse_payload
from tests.events import event_names, event_text, load_event
from tests.unit.golden_envelope_changes import ENVELOPE_EXPECTED, MOTO_KEY
from tests.unit.golden_s3_changes import S3_EXPECTED

EXPECTED: dict[str, list[Change]] = {**S3_EXPECTED, **ENVELOPE_EXPECTED}


def assert_changes(name: str, actual: list[Change], expected: list[Change]) -> None:
    assert len(actual) == len(expected), f"{name}: {len(actual)} changes, want {len(expected)}"
    for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
        for field in fields(Change):
            got_value = getattr(got, field.name)
            want_value = getattr(want, field.name)
            assert got_value == want_value, f"{name}[{index}].{field.name}"
        assert got.event_time is not None
        assert got.event_time.utcoffset() is not None, f"{name}[{index}].event_time is naive"


def test_every_golden_payload_has_an_expectation() -> None:
    # GIVEN the golden payloads on disk
    names = set(event_names())
    # WHEN compared with the table
    # THEN none is untested and none is missing
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_body_parses_to_the_expected_changes(name: str) -> None:
    # GIVEN a golden payload as the text a queue or HTTP request would carry
    text = event_text(name)
    # WHEN it is parsed as a message body
    changes = parse_message(text)
    # THEN every field of every change is as the table says
    assert_changes(name, changes, EXPECTED[name])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_payload_parses_the_same_decoded_or_as_bytes(name: str) -> None:
    # GIVEN a golden payload, decoded (as Lambda hands it over) and as UTF-8 bytes
    payload = load_event(name)
    raw = event_text(name).encode("utf-8")
    # WHEN each is parsed
    from_payload = parse_payload(payload)
    from_bytes = parse_message(raw)
    # THEN both agree with the table
    assert_changes(name, from_payload, EXPECTED[name])
    assert_changes(name, from_bytes, EXPECTED[name])


def test_moto_key_decodes_to_the_key_its_eventbridge_event_carries_raw() -> None:
    # GIVEN moto's notification (key quote_plus'ed, "/" as %2F) and EventBridge event (raw key)
    notification = parse_message(event_text("moto_s3_sqs_body"))
    eventbridge = parse_message(event_text("moto_eventbridge_sqs_body"))
    # WHEN their keys are compared
    # THEN both name the same object
    assert notification[0].key == eventbridge[0].key == MOTO_KEY


def test_only_a_permanent_delete_of_a_version_removes_a_specific_version() -> None:
    # GIVEN a versioned delete, an unversioned delete and a delete marker
    version = parse_message(event_text("s3_delete_version"))[0]
    plain = parse_message(event_text("s3_delete"))[0]
    marker = parse_message(event_text("s3_delete_marker_created"))[0]
    # WHEN asked whether an older version may have become current
    # THEN only the versioned, non-marker delete says so
    assert version.removes_specific_version
    assert not plain.removes_specific_version
    assert not marker.removes_specific_version
