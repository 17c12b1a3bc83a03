"""Build the engine a runtime needs from one ``Settings`` object."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bucketsync.aws.clients import Clients
from bucketsync.aws.dynamo import ConditionalWriter
from bucketsync.aws.s3 import S3ObjectSource
from bucketsync.engine.pipeline import Engine
from bucketsync.settings import Settings
from bucketsync.sinks.catalog import CatalogSink


def build_engine(settings: Settings, clients: Clients | None = None) -> Engine:
    clients = clients or Clients(settings)
    source = S3ObjectSource(
        clients.s3,
        tags=settings.tags,
        preview_chars=settings.preview_chars if settings.preview else 0,
    )
    catalog = CatalogSink(
        ConditionalWriter(clients.dynamodb),
        settings.table,
        tombstone_ttl_days=settings.tombstone_ttl_days,
        journal=settings.journal,
        journal_ttl_days=settings.journal_ttl_days,
    )
    return Engine(
        source,
        [catalog],
        lean=settings.lean,
        ordering=settings.ordering,
        executor=ThreadPoolExecutor(settings.concurrency, thread_name_prefix="bucketsync-s3"),
    )
