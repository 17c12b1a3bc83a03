"""A versioned bucket on the emulator: what the event path sees, and the gap it cannot see.

moto 5.2.5 sends no notification when DeleteObject creates a delete marker (pinned in
test_emulator_gaps.py). Real S3 sends ``ObjectRemoved:DeleteMarkerCreated`` there, and the
engine turns that into a tombstone without a lookup (unit tests and the golden
``s3_delete_marker_created.json``/``sqs_lambda_s3.json`` payloads cover it). On the emulator
the catalog therefore keeps such an object until something else makes the engine look at
the key: any later event for it (HeadObject on a key whose current version is a delete marker
answers 404, which the engine treats as absent), or ``bucketsync reconcile`` (the last test).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote_plus

import pytest

from bucketsync.aws.clients import Clients
from bucketsync.compose import build_engine, reconcile_sinks
from bucketsync.events import Change, ChangeKind
from bucketsync.local.stack import Stack, StackNames, ensure_stack, teardown_stack
from bucketsync.reconcile import Drift, catalog_fingerprints, compare, list_bucket
from bucketsync.reconcile.listing import S3Listing
from bucketsync.reconcile.run import Reconciler
from bucketsync.runtimes.worker import Worker, WorkerStats
from bucketsync.settings import Settings
from bucketsync.sinks.catalog.reader import CatalogReader

KEY = "versioned/report 2024+final é.csv"


@pytest.fixture
def versioned_stack(clients: Clients, settings: Settings, names: StackNames) -> Iterator[Stack]:
    """A fresh stack whose bucket has versioning enabled; torn down after the test."""
    created = ensure_stack(clients, names, versioned=True)
    assert created.versioned
    assert created.queue_url == settings.queue_url
    yield created
    teardown_stack(clients, names)


def drain(settings: Settings, clients: Clients, stack: Stack) -> WorkerStats:
    worker = Worker(
        build_engine(settings, clients), clients.sqs, stack.queue_url, wait_time_seconds=1
    )
    try:
        return worker.drain(idle_polls=1)  # moto enqueues before the S3 call returns
    finally:
        worker.engine.close()


def reader(clients: Clients, stack: Stack) -> CatalogReader:
    return CatalogReader(clients.dynamodb, stack.table)


def drift(clients: Clients, stack: Stack) -> Drift:
    return compare(
        dict(list_bucket(clients.s3, stack.bucket)),
        catalog_fingerprints(reader(clients, stack).list(stack.bucket)),
    )


def put_and_sync(
    settings: Settings, clients: Clients, stack: Stack, body: bytes
) -> tuple[str, WorkerStats]:
    """Upload ``KEY`` and drain the queue; return the new version's id and the drain's stats."""
    version = clients.s3.put_object(Bucket=stack.bucket, Key=KEY, Body=body)["VersionId"]
    return version, drain(settings, clients, stack)


def test_delete_marker_sends_no_event_so_the_catalog_keeps_the_object(
    settings: Settings, clients: Clients, versioned_stack: Stack
) -> None:
    """GAP: on moto a DeleteObject that creates a delete marker notifies nobody, so the catalog
    keeps listing the object until something makes the engine look at the key again. Real S3
    sends ``ObjectRemoved:DeleteMarkerCreated``; the unit tests cover that path.
    """
    # GIVEN an object in a versioned bucket, synced to the catalog
    put_and_sync(settings, clients, versioned_stack, b"v1")
    assert drift(clients, versioned_stack).in_sync
    # WHEN it is deleted (S3 keeps the version and adds a delete marker) and the queue drained
    answer = clients.s3.delete_object(Bucket=versioned_stack.bucket, Key=KEY)
    assert answer["DeleteMarker"] is True
    stats = drain(settings, clients, versioned_stack)
    # THEN no message arrived, and the catalog still lists the object the bucket no longer does
    assert stats.received == 0
    assert drift(clients, versioned_stack) == Drift(extra=[KEY])
    item = reader(clients, versioned_stack).get(versioned_stack.bucket, KEY)
    assert item is not None and item["deleted"] is False
    # WHEN something later makes the engine look at that key (here a re-delivered old create
    # event, in moto's shape: at-least-once delivery does exactly this)
    old_create = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2024-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "bucketsync",
                    "bucket": {
                        "name": versioned_stack.bucket,
                        "arn": f"arn:aws:s3:::{versioned_stack.bucket}",
                    },
                    "object": {"key": quote_plus(KEY), "size": 2, "eTag": "e"},
                },
            }
        ]
    }
    clients.sqs.send_message(QueueUrl=versioned_stack.queue_url, MessageBody=json.dumps(old_create))
    stats = drain(settings, clients, versioned_stack)
    # THEN its HeadObject finds the delete marker (404), and the catalog converges: tombstone
    assert (stats.received, stats.failed) == (1, 0)
    assert drift(clients, versioned_stack).in_sync
    item = reader(clients, versioned_stack).get(versioned_stack.bucket, KEY)
    assert item is not None and item["deleted"] is True


def test_a_new_version_converges(
    settings: Settings, clients: Clients, versioned_stack: Stack
) -> None:
    # GIVEN a key with one version in the catalog
    first, _ = put_and_sync(settings, clients, versioned_stack, b"version one")
    item = reader(clients, versioned_stack).get(versioned_stack.bucket, KEY)
    assert item is not None and item["version_id"] == first
    # WHEN a new version is put and the queue drained
    second, stats = put_and_sync(settings, clients, versioned_stack, b"version two, longer")
    # THEN the catalog holds the new current version: its size, etag and version id
    assert second != first
    assert (stats.received, stats.failed) == (1, 0)
    item = reader(clients, versioned_stack).get(versioned_stack.bucket, KEY)
    assert item is not None
    assert item["version_id"] == second
    assert item["size"] == len(b"version two, longer")
    assert item["deleted"] is False
    assert drift(clients, versioned_stack).in_sync
    # ... and both versions are still in the bucket: the catalog is the current view only
    versions = clients.s3.list_object_versions(Bucket=versioned_stack.bucket, Prefix=KEY)
    assert sorted(v["VersionId"] for v in versions["Versions"]) == sorted([first, second])


@pytest.mark.parametrize(
    ("kind", "event_name"),
    [
        (ChangeKind.CREATED, "ObjectCreated:Put"),
        (ChangeKind.REMOVED, "ObjectRemoved:DeleteMarkerCreated"),
    ],
    ids=["stale-create", "delete-marker"],
)
def test_head_object_on_a_delete_marker_is_absent(
    kind: ChangeKind,
    event_name: str,
    settings: Settings,
    clients: Clients,
    versioned_stack: Stack,
) -> None:
    """Without a sequencer the engine decides by HeadObject, whatever the event says; HeadObject
    on a key whose current version is a delete marker answers 404 (with
    ``x-amz-delete-marker: true``), which must read as absent and write a tombstone.
    """
    # GIVEN a synced object whose current version then became a delete marker (silently)
    put_and_sync(settings, clients, versioned_stack, b"soon hidden")
    clients.s3.delete_object(Bucket=versioned_stack.bucket, Key=KEY)
    # WHEN the engine is handed a change for that key with no sequencer (as the emulator
    # would send): a late create, or the delete-marker event real S3 would have sent
    engine = build_engine(settings, clients)
    try:
        change = Change(
            versioned_stack.bucket,
            KEY,
            kind,
            event_name,
            delete_marker=kind is ChangeKind.REMOVED,
        )
        report = engine.process_changes([change])
    finally:
        engine.close()
    # THEN it looked the key up, found it absent, and replaced the item with a tombstone
    assert report.failures == {}
    assert report.lookups == 1
    assert report.outcomes == {"catalog": {"applied": 1}}
    item = reader(clients, versioned_stack).get(versioned_stack.bucket, KEY)
    assert item is not None
    assert item["deleted"] is True
    assert item["expires_at"] > 0
    assert drift(clients, versioned_stack).in_sync


def test_reconcile_sees_the_delete_marker_no_event_reported(
    settings: Settings, clients: Clients, versioned_stack: Stack
) -> None:
    # GIVEN a catalogued object in a versioned bucket, deleted (a delete marker: no event on
    # moto), and another with an older version under its current one
    put_and_sync(settings, clients, versioned_stack, b"v1")
    other = "versioned/other.txt"
    clients.s3.put_object(Bucket=versioned_stack.bucket, Key=other, Body=b"old")
    clients.s3.put_object(Bucket=versioned_stack.bucket, Key=other, Body=b"current")
    drain(settings, clients, versioned_stack)
    clients.s3.delete_object(Bucket=versioned_stack.bucket, Key=KEY)
    assert drift(clients, versioned_stack) == Drift(extra=[KEY])
    # WHEN reconcile runs (it compares the current versions: a delete marker is absent)
    report = Reconciler(
        S3Listing(clients.s3, versioned_stack.bucket),
        reconcile_sinks(settings, clients, ["catalog"]),
    ).run()
    # THEN the deleted key is tombstoned and the versioned one left equal
    drifted = report.sinks["catalog"]
    assert (drifted.phantom, drifted.equal, drifted.repaired) == (1, 1, 1)
    assert drift(clients, versioned_stack).in_sync
    item = reader(clients, versioned_stack).get(versioned_stack.bucket, KEY)
    assert item is not None and item["deleted"] is True
