"""Build the engine a runtime needs from one ``Settings`` object."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bucketsync.aws.clients import Clients
from bucketsync.aws.dynamo import ConditionalWriter
from bucketsync.aws.s3 import S3ObjectSource
from bucketsync.engine.pipeline import Engine
from bucketsync.errors import ConfigurationError
from bucketsync.runtimes.worker import Worker
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
        ConditionalWriter(
            clients.dynamodb,
            transact=settings.write_mode == "transact",
            # Its own pool: writes are submitted from threads that may hold the lookup pool.
            executor=ThreadPoolExecutor(settings.concurrency, thread_name_prefix="bucketsync-db"),
        ),
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


def build_worker(
    settings: Settings,
    clients: Clients | None = None,
    *,
    queue_url: str | None = None,
    threads: int | None = None,
) -> Worker:
    """The SQS worker over ``build_engine``; queue and threads default to the settings'."""
    clients = clients or Clients(settings)
    queue = queue_url or settings.queue_url
    if not queue:
        raise ConfigurationError("no queue: pass --queue-url or set BUCKETSYNC_QUEUE_URL")
    return Worker(
        build_engine(settings, clients),
        clients.sqs,
        queue,
        threads=threads or settings.worker_threads,
        wait_time_seconds=settings.wait_time_seconds,
        visibility_timeout=settings.visibility_timeout,
    )
