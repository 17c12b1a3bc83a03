"""Every golden payload in tests/events, parsed and checked field by field against a table.

The table is written from the payloads by hand (not captured from the parser), so a change in
parsing shows up here as a named field of a named file.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest

from bucketsync.events import Change, ChangeKind, parse_message, parse_payload
from tests.events import event_names, event_text, load_event

CREATED = ChangeKind.CREATED
REMOVED = ChangeKind.REMOVED


def utc(year: int, month: int, day: int, *clock: int, ms: int = 0, us: int = 0) -> datetime:
    """A UTC time, built without the parser's ISO-8601 reading: (hour, minute, second)."""
    hour, minute, second = (*clock, 0, 0, 0)[:3]
    return datetime(year, month, day, hour, minute, second, ms * 1000 + us, tzinfo=UTC)


# Shared by more than one file.
DOC_PUT_ID = "096fKKXTRTtl3on89fVO.nfljtsv6qko"
EB_CREATED = Change(
    bucket="amzn-s3-demo-bucket1",
    key="example-key",
    kind=CREATED,
    event_name="ObjectCreated:PutObject",
    event_time=utc(2021, 11, 12),
    sequencer="617f08299329d189",
    version_id="IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
    size=5,
    etag="b1946ac92492d2347c6235b4d2611184",
    requester="123456789012",
    source_ip="1.2.3.4",
    request_id="N4N7GDK58NMKJ12R",
    region="ca-central-1",
)
EB_DELETED = Change(
    bucket="amzn-s3-demo-bucket1",
    key="example-key",
    kind=REMOVED,
    event_name="ObjectRemoved:DeleteMarkerCreated",
    event_time=utc(2021, 11, 12),
    sequencer="617f0837b476e463",
    version_id="1QW9g1Z99LUNbvaaYVpW9xDlOLU.qxgF",
    etag="d41d8cd98f00b204e9800998ecf8427e",
    requester="123456789012",
    source_ip="1.2.3.4",
    request_id="0BH729840619AG5K",
    region="ca-central-1",
    delete_marker=True,
)
MOTO_KEY = "dir/a+b c \u00e9.txt"
MOTO_ETAG = "6f5902ac237024bdd0c176cb93063dc4"
MOTO_PUT = Change(
    bucket="bkt",
    key=MOTO_KEY,
    kind=CREATED,
    event_name="ObjectCreated:Put",
    event_time=utc(2026, 11, 23, 13, 28, 26, ms=728),
    size=12,
    etag=MOTO_ETAG,
    region="us-east-1",
)


def moto_eventbridge(kind: ChangeKind, event_name: str, event_time: datetime) -> Change:
    # moto fills the detail from AWS's example: fixed sequencer, request id, requester, IP.
    return Change(
        bucket="bkt",
        key=MOTO_KEY,
        kind=kind,
        event_name=event_name,
        event_time=event_time,
        sequencer="617f08299329d189",
        version_id="null",
        size=12,
        etag=MOTO_ETAG,
        requester="123456789012",
        source_ip="1.2.3.4",
        request_id="N4N7GDK58NMKJ12R",
        region="us-east-1",
    )


TRICKY_KEYS = {
    1: "a b+c.txt",
    2: "caf\u00e9/men\u00fc.txt",
    3: "dir with spaces/file name .txt",
    4: "100% done.txt",
    5: "a/b/c.txt",
    6: "x=y;z&w?.txt",
    7: "\U0001f4f7 photo.jpg",
    8: "already%20encoded.txt",
}


def tricky(n: int) -> Change:
    return Change(
        bucket="amzn-s3-demo-keys",
        key=TRICKY_KEYS[n],
        kind=CREATED,
        event_name="ObjectCreated:Put",
        event_time=utc(2026, 11, 20, 15, 0, n),
        sequencer=f"00674000000000000{n}",
        size=n,
        etag="d41d8cd98f00b204e9800998ecf8427e",
        requester="A1YQ72UWCM96UF",
        source_ip="93.108.161.96",
        request_id=f"TRICKYKEY000000{n}",
        region="us-east-1",
    )


EXPECTED: dict[str, list[Change]] = {
    "s3_put": [
        Change(
            bucket="amzn-s3-demo-bucket",
            key="HappyFace.jpg",
            kind=CREATED,
            event_name="ObjectCreated:Put",
            event_time=utc(1970, 1, 1),
            sequencer="0055AED6DCD90281E5",
            version_id=DOC_PUT_ID,
            size=1024,
            etag="d41d8cd98f00b204e9800998ecf8427e",
            requester="AIDAJDPLRKLG7UEXAMPLE",
            source_ip="127.0.0.1",
            request_id="C3D13FE58DE4C810",
            region="us-west-2",
        )
    ],
    "s3_complete_multipart_upload": [
        Change(
            bucket="amzn-s3-demo-backups",
            key="db/2026-11-20/full.tar.gz",
            kind=CREATED,
            event_name="ObjectCreated:CompleteMultipartUpload",
            event_time=utc(2026, 11, 20, 9, 15, 42, ms=180),
            sequencer="00673DA9AE2C4F1B7D",
            size=5368709120,
            etag="e0fd0e2a7cd9d0e4a2b5f1a6c8d7e9f0-640",
            requester="AWS:AROAEXAMPLEROLEID:backup-job",
            source_ip="10.20.30.40",
            request_id="7Q2B4TZ1KX9J3M5N",
            region="eu-west-1",
        )
    ],
    "s3_copy": [
        Change(
            bucket="amzn-s3-demo-reports",
            key="reports/Q3 summary.pdf",
            kind=CREATED,
            event_name="ObjectCreated:Copy",
            event_time=utc(2026, 11, 20, 10, 2, 3, ms=4),
            sequencer="00673DB0D1A2B3C4D5",
            version_id="Zq1Lr0m3W9y.8ZPcd1nC4pY5Rt6Uv7Wx",
            size=48213,
            etag="9b2cf535f27731c974343645a3985328",
            requester="AWS:AIDAINPONIXQXHT3IKHL2",
            source_ip="205.255.255.255",
            request_id="D82B88E5F771F645",
            region="us-east-2",
        )
    ],
    "s3_delete": [
        Change(
            bucket="lambda-artifacts-deafc19498e3f2df",
            key="b21b84d653bb07b05b1e6b33684dc11b",
            kind=REMOVED,
            event_name="ObjectRemoved:Delete",
            event_time=utc(2019, 9, 3, 19, 37, 27, ms=192),
            sequencer="0C0F6F405D6ED209E1",
            requester="AWS:AIDAINPONIXQXHT3IKHL2",
            source_ip="205.255.255.255",
            request_id="D82B88E5F771F645",
            region="us-east-2",
        )
    ],
    "s3_delete_marker_created": [
        Change(
            bucket="amzn-s3-demo-bucket",
            key="HappyFace.jpg",
            kind=REMOVED,
            event_name="ObjectRemoved:DeleteMarkerCreated",
            event_time=utc(2026, 11, 20, 11, 30, 0, ms=250),
            sequencer="0055AED6DCD90281F7",
            version_id="1QW9g1Z99LUNbvaaYVpW9xDlOLU.qxgF",
            requester="AIDAJDPLRKLG7UEXAMPLE",
            source_ip="127.0.0.1",
            request_id="0BH729840619AG5K",
            region="us-west-2",
            delete_marker=True,
        )
    ],
    "s3_delete_version": [
        Change(
            bucket="amzn-s3-demo-bucket",
            key="HappyFace.jpg",
            kind=REMOVED,
            event_name="ObjectRemoved:Delete",
            event_time=utc(2026, 11, 20, 11, 45, 10, ms=1),
            sequencer="0055AED6DCD9028205",
            version_id=DOC_PUT_ID,
            requester="AIDAJDPLRKLG7UEXAMPLE",
            source_ip="127.0.0.1",
            request_id="5KQ9ZB1W4R7T2Y8M",
            region="us-west-2",
        )
    ],
    "s3_lifecycle_expiration": [
        Change(
            bucket="amzn-s3-demo-scratch",
            key="tmp/session-0042.json",
            kind=REMOVED,
            event_name="LifecycleExpiration:Delete",
            event_time=utc(2026, 11, 21, 0, 0, 5, ms=115),
            sequencer="00673E7A0000000000",
            requester="s3.amazonaws.com",
            source_ip="s3.amazonaws.com",
            request_id="20EB74C14654DC47",
            region="us-east-1",
        ),
        Change(
            bucket="amzn-s3-demo-versioned",
            key="logs/2025/app.log",
            kind=REMOVED,
            event_name="LifecycleExpiration:DeleteMarkerCreated",
            event_time=utc(2026, 11, 21, 0, 0, 6, ms=902),
            sequencer="00673E7A0000000001",
            version_id="mtB0cV.jejK63XkRNceanNMC.qXPWLeK",
            requester="s3.amazonaws.com",
            source_ip="s3.amazonaws.com",
            request_id="20EB74C14654DC48",
            region="us-east-1",
            delete_marker=True,
        ),
    ],
    "s3_tagging": [],
    "s3_test_event": [],
    "s3_tricky_keys": [tricky(n) for n in sorted(TRICKY_KEYS)],
    "sqs_lambda_s3": [
        Change(
            bucket="xxx",
            key="test.pdf",
            kind=CREATED,
            event_name="ObjectCreated:Put",
            event_time=utc(2023, 4, 12, 20, 43, 38, ms=21),
            sequencer="00643717F9F8B85354",
            version_id="yd3d4HaWOT2zguDLvIQLU6ptDTwKBnQV",
            size=104681,
            etag="2e3ad1e983318bbd8e73b080e2997980",
            requester="A1YQ72UWCM96UF",
            source_ip="93.108.161.96",
            request_id="YMSSR8BZJ2Y99K6P",
            region="us-east-1",
        ),
        Change(
            bucket="xxx",
            key="test.pdf",
            kind=REMOVED,
            event_name="ObjectRemoved:DeleteMarkerCreated",
            event_time=utc(2023, 4, 12, 20, 44, 2, ms=517),
            sequencer="00643718123ABCDEF0",
            version_id="Wm5bKd1x9pQ2rS3tU4vW5xY6zA7bC8dE",
            requester="A1YQ72UWCM96UF",
            source_ip="93.108.161.96",
            request_id="ZP1Q2W3E4R5T6Y7U",
            region="us-east-1",
            delete_marker=True,
        ),
    ],
    "sns_sqs_body": [
        Change(
            bucket="amzn-s3-demo-photos",
            key="photos/2026/IMG_0001.JPG",
            kind=CREATED,
            event_name="ObjectCreated:Put",
            event_time=utc(2026, 11, 20, 13, 0, 0),
            sequencer="00673DD8C0A0B0C0D0",
            size=3145728,
            etag="1b2cf535f27731c974343645a3985328",
            requester="A1YQ72UWCM96UF",
            source_ip="93.108.161.96",
            request_id="4F6H8J0K2L4M6N8P",
            region="us-east-1",
        )
    ],
    "sns_sqs_body_test_event": [],
    "sns_raw_sqs_body": [
        Change(
            bucket="amzn-s3-demo-uploads",
            key="inbox/form upload(1).csv",
            kind=CREATED,
            event_name="ObjectCreated:Post",
            event_time=utc(2026, 11, 20, 13, 5, 0),
            sequencer="00673DDA0F0E0D0C0B",
            size=77,
            etag="c4ca4238a0b923820dcc509a6f75849b",
            requester="A1YQ72UWCM96UF",
            source_ip="93.108.161.96",
            request_id="9A8B7C6D5E4F3G2H",
            region="us-east-1",
        )
    ],
    "sns_lambda_s3": [
        Change(
            bucket="amzn-s3-demo-media",
            key="video/clip.mp4",
            kind=CREATED,
            event_name="ObjectCreated:Put",
            event_time=utc(2026, 11, 20, 13, 10, 0),
            sequencer="00673DDB1122334455",
            version_id="Vb1.aC2dE3fG4hI5jK6lM7nO8pQ9rS0t",
            size=10485760,
            etag="5d41402abc4b2a76b9719d911017c592",
            requester="A1YQ72UWCM96UF",
            source_ip="93.108.161.96",
            request_id="1Z2Y3X4W5V6U7T8S",
            region="us-east-2",
        )
    ],
    "eventbridge_object_created": [EB_CREATED],
    "eventbridge_object_deleted": [EB_DELETED],
    "eventbridge_object_deleted_lifecycle": [
        Change(
            bucket="amzn-s3-demo-bucket1",
            key="example-key",
            kind=REMOVED,
            event_name="LifecycleExpiration:DeleteMarkerCreated",
            event_time=utc(2021, 11, 12),
            sequencer="617b398000000000",
            version_id="mtB0cV.jejK63XkRNceanNMC.qXPWLeK",
            etag="d41d8cd98f00b204e9800998ecf8427e",
            requester="s3.amazonaws.com",
            request_id="20EB74C14654DC47",
            region="ca-central-1",
            delete_marker=True,
        )
    ],
    "eventbridge_object_deleted_permanently": [
        Change(
            bucket="amzn-s3-demo-bucket1",
            # EventBridge keys arrive raw: "+" and "%" are the key's own characters.
            key="shared/my file+v2 100%.txt",
            kind=REMOVED,
            event_name="ObjectRemoved:PermanentlyDeleted",
            event_time=utc(2026, 11, 20, 14, 0, 0),
            sequencer="0067400A1B2C3D4E5F",
            requester="123456789012",
            source_ip="1.2.3.4",
            request_id="7H8J9K0L1M2N3P4Q",
            region="eu-central-1",
        )
    ],
    "eventbridge_object_restore_completed": [],
    "sqs_lambda_eventbridge": [EB_CREATED, EB_DELETED],
    "moto_s3_sqs_body": [MOTO_PUT],
    "moto_s3_delete_sqs_body": [
        Change(
            bucket="bkt",
            key=MOTO_KEY,
            kind=REMOVED,
            event_name="ObjectRemoved:Delete",
            event_time=utc(2026, 11, 23, 13, 28, 26, ms=739),
            size=12,
            etag=MOTO_ETAG,
            region="us-east-1",
        )
    ],
    "moto_sns_sqs_body": [MOTO_PUT],
    "moto_sns_raw_sqs_body": [MOTO_PUT],
    "moto_test_event": [],
    "moto_sns_sqs_body_test_event": [],
    "moto_eventbridge_sqs_body": [
        moto_eventbridge(CREATED, "ObjectCreated:ObjectCreated", utc(2026, 11, 23, 13, 28, 26))
    ],
    "moto_eventbridge_deleted_sqs_body": [
        # No deletion-type from moto, so neither a suffix nor a delete marker.
        moto_eventbridge(REMOVED, "ObjectRemoved", utc(2026, 11, 23, 13, 28, 26))
    ],
    "moto_eventbridge_tags_sqs_body": [],
    "moto_eventbridge_event": [
        # moto's "time" before its SQS target formats it: 1795440506.732306 epoch seconds.
        moto_eventbridge(
            CREATED, "ObjectCreated:ObjectCreated", utc(2026, 11, 23, 13, 28, 26, us=732306)
        )
    ],
}


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
