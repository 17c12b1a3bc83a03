"""The changes each golden S3 notification (``tests/events/s3_*.json``) holds, for
``test_events_golden.py``: written from the payloads by hand, not captured from the parser."""

from __future__ import annotations

from datetime import UTC, datetime

from bucketsync.events import Change, ChangeKind

CREATED = ChangeKind.CREATED
REMOVED = ChangeKind.REMOVED


def utc(year: int, month: int, day: int, *clock: int, ms: int = 0, us: int = 0) -> datetime:
    """A UTC time, built without the parser's ISO-8601 reading: (hour, minute, second)."""
    hour, minute, second = (*clock, 0, 0, 0)[:3]
    return datetime(year, month, day, hour, minute, second, ms * 1000 + us, tzinfo=UTC)


# Shared by more than one file.
DOC_PUT_ID = "096fKKXTRTtl3on89fVO.nfljtsv6qko"
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


S3_EXPECTED: dict[str, list[Change]] = {
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
}
