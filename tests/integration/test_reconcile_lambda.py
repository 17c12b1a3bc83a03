"""Reconcile in Lambda (runtimes.reconcile), handler called in process against the emulator
(moto runs no handler code without Docker): a plan, its shards through a queue or one by
one, the deadline, and one --max-delete budget across shards."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bucketsync.aws.clients import Clients
from bucketsync.local.stack import Stack
from bucketsync.reconcile import catalog_fingerprints, compare, list_bucket
from bucketsync.runtimes.build import build_worker
from bucketsync.runtimes.reconcile import ReconcileApp
from bucketsync.settings import Settings
from bucketsync.sinks.catalog.reader import CatalogReader


class Context:
    """A Lambda context whose deadline is ``seconds`` from its creation."""

    def __init__(self, seconds: float = 900.0) -> None:
        self._until = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self._until - time.monotonic()) * 1000)


def drift(clients: Clients, settings: Settings, bucket: str) -> Any:
    reader = CatalogReader(clients.dynamodb, settings.table)
    return compare(dict(list_bucket(clients.s3, bucket)), catalog_fingerprints(reader.list(bucket)))


@pytest.fixture
def filled(clients: Clients, stack: Stack) -> Iterator[Stack]:
    """30 objects under three "folders", none of their events delivered."""
    for n in range(30):
        clients.s3.put_object(Bucket=stack.bucket, Key=f"{'abc'[n % 3]}/obj {n:02d}", Body=b"x")
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)
    yield stack


def app_for(settings: Settings, **overrides: Any) -> ReconcileApp:
    return ReconcileApp(settings.override(reconcile_workers=4, **overrides))


def test_a_plan_and_its_shards_backfill_the_catalog(
    settings: Settings, clients: Clients, filled: Stack
) -> None:
    app = app_for(settings)
    # WHEN a plan splits the bucket, and each shard is invoked
    planned = app.handle({"action": "plan", "bucket": filled.bucket, "shards": 4}, Context())
    results = [app.handle(shard, Context()) for shard in planned["shards"]]
    # THEN the shards cover the bucket between them, and the catalog equals it
    assert len(planned["shards"]) == 4 and planned["enqueued"] is False
    assert all(result["done"] for result in results)
    assert sum(r["report"]["sinks"]["catalog"]["repaired"] for r in results) == 30
    assert drift(clients, settings, filled.bucket).in_sync
    # AND a shard invoked again (a redelivery) finds its range done
    again = app.handle(planned["shards"][1], Context())
    assert again["done"] and again["report"]["listed"] == 0


def test_shards_handed_out_through_a_queue_come_back_until_done(
    settings: Settings, clients: Clients, filled: Stack
) -> None:
    # GIVEN a plan that sends its shards to a queue (here the stack's DLQ: any queue will do)
    app = app_for(settings, reconcile_queue_url=filled.dlq_url)
    planned = app.handle({"action": "plan", "bucket": filled.bucket, "shards": 3}, Context())
    assert planned["enqueued"] is True
    messages = clients.sqs.receive_message(QueueUrl=filled.dlq_url, MaxNumberOfMessages=10)
    records = [
        {"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"}
        for m in messages["Messages"]
    ]
    assert [json.loads(r["body"]) for r in records] == planned["shards"]
    # WHEN the function takes them as one SQS batch, with a message that is not a shard
    records.append({"messageId": "junk", "body": "{not json", "eventSource": "aws:sqs"})
    answer = app.handle({"Records": records}, Context())
    # THEN every shard is done and only the junk comes back
    assert answer == {"batchItemFailures": [{"itemIdentifier": "junk"}]}
    assert drift(clients, settings, filled.bucket).in_sync


def test_a_shard_stops_before_its_deadline_and_the_next_call_continues(
    settings: Settings, clients: Clients, filled: Stack
) -> None:
    # GIVEN listings that take 0.3 s a page, 5 keys a page, and 1 s before the margin
    app = app_for(settings, reconcile_page_size=5, reconcile_margin_seconds=5.0)
    app.clients.s3.meta.events.register("before-send.s3.ListObjectsV2", lambda **_: time.sleep(0.3))
    shard = {"action": "shard", "run": "deadline", "bucket": filled.bucket}
    # WHEN the shard is invoked with little time left
    first = app.handle(shard, Context(seconds=6.0))
    # THEN it stops early, checkpointed, having deleted nothing and skipped nothing
    assert first["done"] is False and first["position"] is not None
    assert 0 < first["report"]["listed"] < 30
    # AND the next invocation continues after that position and finishes
    second = app.handle(shard, Context())
    assert second["done"] is True
    assert second["report"]["resumed_from"] == first["position"]
    assert first["report"]["listed"] + second["report"]["listed"] <= 30 + 5
    assert drift(clients, settings, filled.bucket).in_sync


def test_max_delete_is_one_budget_for_every_shard(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN a catalogued bucket, then six deletes whose events are lost, across folders
    worker = build_worker(settings, clients, queue_url=stack.queue_url, threads=1)
    for n in range(12):
        clients.s3.put_object(Bucket=stack.bucket, Key=f"{'ab'[n % 2]}/k{n:02d}", Body=b"x")
    assert worker.drain().failed == 0
    for n in range(6):
        clients.s3.delete_object(Bucket=stack.bucket, Key=f"{'ab'[n % 2]}/k{n:02d}")
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)
    app = app_for(settings)
    # WHEN two shards run with --max-delete 4 between them
    planned = app.handle(
        {"action": "plan", "bucket": stack.bucket, "shards": 2, "max_delete": 4}, Context()
    )
    results = [app.handle(shard, Context()) for shard in planned["shards"]]
    # THEN four deletes were made in all, and the shards that held some back are not done
    sinks = [r["report"]["sinks"]["catalog"] for r in results]
    assert sum(s["repaired"] for s in sinks) == 4
    assert sum(s["not_deleted"] for s in sinks) == 2
    assert not all(r["done"] for r in results)
    assert len(drift(clients, settings, stack.bucket).extra) == 2


def test_an_event_that_is_not_a_reconcile_action_is_refused(settings: Settings) -> None:
    app = app_for(settings)
    with pytest.raises(Exception, match="unknown reconcile action"):
        app.handle({"action": "nope"}, Context())
