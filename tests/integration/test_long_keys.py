"""Legal S3 keys near the 1024-byte limit reach the catalog (DynamoDB caps sort keys at 1024)."""

from __future__ import annotations

import pytest

from bucketsync.aws.clients import Clients
from bucketsync.compose import build_engine
from bucketsync.local.stack import Stack
from bucketsync.runtimes.worker import Worker
from bucketsync.settings import Settings
from bucketsync.sinks.catalog.reader import CatalogReader


@pytest.mark.parametrize("length", [1020, 1021, 1024])
def test_a_key_of_up_to_1024_bytes_reaches_the_catalog(
    length: int, settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN an object whose key is legal in S3 (at most 1024 bytes of UTF-8)
    key = "k" * length
    listed = "k" * 900
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=b"x")
    # WHEN the worker drains the queue
    stats = Worker(
        build_engine(settings, clients), clients.sqs, stack.queue_url, wait_time_seconds=1
    ).drain(idle_polls=1)
    # THEN nothing failed and the catalog holds it
    assert stats.failed == 0
    reader = CatalogReader(clients.dynamodb, stack.table)
    assert reader.get(stack.bucket, key) is not None
    assert [i["object_key"] for i in reader.list(stack.bucket, listed)] == [key]


@pytest.mark.parametrize("length", [900, 960, 1024])
def test_journal_mode_does_not_fail_long_keys(
    length: int, settings: Settings, clients: Clients, stack: Stack
) -> None:
    key = "j" * length
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=b"x")
    journal = settings.model_copy(update={"journal": True})
    stats = Worker(
        build_engine(journal, clients), clients.sqs, stack.queue_url, wait_time_seconds=1
    ).drain(idle_polls=1)
    assert stats.failed == 0
    assert CatalogReader(clients.dynamodb, stack.table).get(stack.bucket, key) is not None
