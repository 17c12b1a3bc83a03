"""The changes each golden payload delivered through SQS, SNS or EventBridge holds (moto's
own among them), for ``test_events_golden.py``: written from the payloads by hand, not
captured from the parser."""

from __future__ import annotations

from datetime import datetime

from bucketsync.events import Change, ChangeKind
from tests.unit.golden_s3_changes import CREATED, REMOVED, utc

# Shared by more than one file.
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


ENVELOPE_EXPECTED: dict[str, list[Change]] = {
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
