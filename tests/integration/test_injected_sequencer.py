"""The black-box finding of the reconcile issue: where the stamp families meet.

On the emulator (no sequencers: observation stamps, the default ``auto`` ordering), one
injected notification carrying a sequencer tombstoned a live key, and every later real upload
(observation-stamped) was stale behind it: S stamps sort above every O stamp. Reproduced here
through the queue and the worker, as the finding was.
"""

from __future__ import annotations

import json

from bucketsync.aws.clients import Clients
from bucketsync.compose import reconcile_sinks
from bucketsync.local.stack import Stack
from bucketsync.reconcile import Drift, catalog_fingerprints, compare, list_bucket
from bucketsync.reconcile.listing import S3Listing
from bucketsync.reconcile.run import Reconciler
from bucketsync.runtimes.build import build_worker
from bucketsync.settings import Settings
from bucketsync.sinks.catalog.reader import CatalogReader

KEY = "reports/live.txt"


def injected_delete(bucket: str, key: str) -> str:
    """An S3 ObjectRemoved notification for ``key`` with a sequencer, as an SQS body."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-12-06T08:00:00.000Z",
        "eventName": "ObjectRemoved:Delete",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket},
            "object": {"key": key, "sequencer": "00675F2B9A1C2D3E4F"},
        },
    }
    return json.dumps({"Records": [record]})


def drift(clients: Clients, settings: Settings, stack: Stack) -> Drift:
    reader = CatalogReader(clients.dynamodb, settings.table)
    return compare(
        dict(list_bucket(clients.s3, stack.bucket)),
        catalog_fingerprints(reader.list(stack.bucket)),
    )


def test_an_injected_sequencer_never_outlives_the_next_real_upload(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    worker = build_worker(settings, clients, queue_url=stack.queue_url, threads=1)
    # GIVEN a live key, catalogued from its real (sequencer-less) event
    clients.s3.put_object(Bucket=stack.bucket, Key=KEY, Body=b"version 1")
    assert worker.drain().failed == 0
    # WHEN a notification carrying a sequencer claims it was deleted
    clients.sqs.send_message(
        QueueUrl=stack.queue_url, MessageBody=injected_delete(stack.bucket, KEY)
    )
    assert worker.drain().failed == 0
    # ... and the key is really uploaded again afterwards
    clients.s3.put_object(Bucket=stack.bucket, Key=KEY, Body=b"version 2")
    assert worker.drain().failed == 0
    # THEN the catalog holds the real upload: the injection did not stand over it
    assert drift(clients, settings, stack).in_sync, drift(clients, settings, stack)


def test_a_sequencer_tombstone_over_a_live_object_is_repaired_by_one_reconcile(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN an object whose own event was lost, and an injected delete (with a sequencer) that
    # tombstoned it in the catalog, which held nothing to confirm against
    clients.s3.put_object(Bucket=stack.bucket, Key=KEY, Body=b"alive")
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)
    worker = build_worker(settings, clients, queue_url=stack.queue_url, threads=1)
    clients.sqs.send_message(
        QueueUrl=stack.queue_url, MessageBody=injected_delete(stack.bucket, KEY)
    )
    assert worker.drain().failed == 0
    reader = CatalogReader(clients.dynamodb, settings.table)
    tombstone = reader.get(stack.bucket, KEY)
    assert tombstone is not None and tombstone["deleted"] and tombstone["rev"].startswith("S")
    # WHEN one reconcile runs
    report = Reconciler(
        S3Listing(clients.s3, stack.bucket),
        reconcile_sinks(settings, clients, ["catalog"]),
    ).run()
    # THEN the object is back in the catalog: a repair replaces what was written before its
    # listing, whatever the stamp family
    assert report.sinks["catalog"].missing == 1 and report.exit_code() == 0
    assert drift(clients, settings, stack).in_sync
