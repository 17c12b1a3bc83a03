"""Which event names and detail-types are changes, which are skipped, and what they are called."""

from __future__ import annotations

import copy

import pytest

from bucketsync.events import ChangeKind, parse_payload
from tests.events import load_event

CREATED = ChangeKind.CREATED
REMOVED = ChangeKind.REMOVED


def notification(event_name: str) -> dict[str, object]:
    event = copy.deepcopy(load_event("s3_put"))
    assert isinstance(event, dict)
    event["Records"][0]["eventName"] = event_name
    return event


def eventbridge(detail_type: str, **detail: str) -> dict[str, object]:
    event = copy.deepcopy(load_event("eventbridge_object_created"))
    assert isinstance(event, dict)
    event["detail-type"] = detail_type
    event["detail"].update(detail)
    return event


@pytest.mark.parametrize(
    ("event_name", "kind", "delete_marker"),
    [
        ("ObjectCreated:Put", CREATED, False),
        ("ObjectCreated:Post", CREATED, False),
        ("ObjectCreated:Copy", CREATED, False),
        ("ObjectCreated:CompleteMultipartUpload", CREATED, False),
        ("ObjectRemoved:Delete", REMOVED, False),
        ("ObjectRemoved:DeleteMarkerCreated", REMOVED, True),
        ("LifecycleExpiration:Delete", REMOVED, False),
        ("LifecycleExpiration:DeleteMarkerCreated", REMOVED, True),
    ],
)
def test_content_event_names_map_to_a_kind(
    event_name: str, kind: ChangeKind, delete_marker: bool
) -> None:
    # GIVEN a notification with an object content event
    event = notification(event_name)
    # WHEN it is parsed
    [change] = parse_payload(event)
    # THEN its kind and delete-marker flag follow the name, which is kept as sent
    assert (change.kind, change.delete_marker, change.event_name) == (
        kind,
        delete_marker,
        event_name,
    )


@pytest.mark.parametrize(
    "event_name",
    [
        "ObjectRestore:Post",
        "ObjectRestore:Completed",
        "ObjectRestore:Delete",
        "ObjectTagging:Put",
        "ObjectTagging:Delete",
        "ObjectAcl:Put",
        "Replication:OperationFailedReplication",
        "Replication:OperationMissedThreshold",
        "LifecycleTransition",
        "IntelligentTiering",
        "ReducedRedundancyLostObject",
    ],
)
def test_other_event_names_are_recognised_and_skipped(event_name: str) -> None:
    # GIVEN a notification with an event that changes no object's content
    event = notification(event_name)
    # WHEN it is parsed
    # THEN it yields no change (and no error)
    assert parse_payload(event) == []


@pytest.mark.parametrize(
    ("detail_type", "detail", "kind", "event_name", "delete_marker"),
    [
        ("Object Created", {"reason": "PutObject"}, CREATED, "ObjectCreated:PutObject", False),
        ("Object Created", {"reason": "POST Object"}, CREATED, "ObjectCreated:POSTObject", False),
        ("Object Created", {"reason": "CopyObject"}, CREATED, "ObjectCreated:CopyObject", False),
        (
            "Object Created",
            {"reason": "CompleteMultipartUpload"},
            CREATED,
            "ObjectCreated:CompleteMultipartUpload",
            False,
        ),
        (
            "Object Deleted",
            {"reason": "DeleteObject", "deletion-type": "Permanently Deleted"},
            REMOVED,
            "ObjectRemoved:PermanentlyDeleted",
            False,
        ),
        (
            "Object Deleted",
            {"reason": "DeleteObject", "deletion-type": "Delete Marker Created"},
            REMOVED,
            "ObjectRemoved:DeleteMarkerCreated",
            True,
        ),
        (
            "Object Deleted",
            {"reason": "Lifecycle Expiration", "deletion-type": "Permanently Deleted"},
            REMOVED,
            "LifecycleExpiration:PermanentlyDeleted",
            False,
        ),
        (
            "Object Deleted",
            {"reason": "Lifecycle Expiration", "deletion-type": "Delete Marker Created"},
            REMOVED,
            "LifecycleExpiration:DeleteMarkerCreated",
            True,
        ),
    ],
)
def test_eventbridge_events_get_a_notification_style_name(
    detail_type: str,
    detail: dict[str, str],
    kind: ChangeKind,
    event_name: str,
    delete_marker: bool,
) -> None:
    # GIVEN an EventBridge S3 event with a detail-type, reason and deletion-type
    event = eventbridge(detail_type, **detail)
    # WHEN it is parsed
    [change] = parse_payload(event)
    # THEN the name is built from them as documented in events.eventbridge
    assert (change.kind, change.event_name, change.delete_marker) == (
        kind,
        event_name,
        delete_marker,
    )


@pytest.mark.parametrize(
    "detail_type",
    [
        "Object Restore Initiated",
        "Object Restore Completed",
        "Object Restore Expired",
        "Object Tags Added",
        "Object Tags Deleted",
        "Object ACL Updated",
        "Object Storage Class Changed",
        "Object Access Tier Changed",
        "AWS API Call via CloudTrail",
    ],
)
def test_other_eventbridge_detail_types_are_recognised_and_skipped(detail_type: str) -> None:
    # GIVEN an EventBridge S3 event that changes no object's content
    event = eventbridge(detail_type)
    # WHEN it is parsed
    # THEN it yields no change (and no error)
    assert parse_payload(event) == []
