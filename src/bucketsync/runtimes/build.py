"""The worker, built from one ``Settings`` object over the parts ``bucketsync.compose`` makes:
its queue and threads, and its own reconcile of the engine's sinks on a schedule."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bucketsync.aws.clients import Clients
from bucketsync.compose import build_engine, listed_sinks, writes_to
from bucketsync.engine.pipeline import Engine
from bucketsync.errors import ConfigurationError, Fault, fault_of
from bucketsync.runtimes.pause import Backoff
from bucketsync.runtimes.schedule import HOUR, ReconcileSchedule, march_sinks
from bucketsync.runtimes.worker import Worker
from bucketsync.settings import Settings

log = logging.getLogger(__name__)


def build_worker(
    settings: Settings,
    clients: Clients | None = None,
    *,
    queue_url: str | None = None,
    threads: int | None = None,
    engine: Engine | None = None,
) -> Worker:
    """The SQS worker over ``engine`` (default: ``build_engine``); queue and threads default to
    the settings'."""
    clients = clients or Clients(settings)
    queue = queue_url or settings.queue_url
    if not queue:
        raise ConfigurationError("no queue: pass --queue-url or set BUCKETSYNC_QUEUE_URL")
    engine = engine or build_engine(settings, clients)
    return Worker(
        engine,
        clients.sqs,
        queue,
        threads=threads or settings.worker_threads,
        wait_time_seconds=settings.wait_time_seconds,
        visibility_timeout=settings.visibility_timeout,
        reconcile=_worker_reconcile(settings, clients, engine),
        context=writes_to(settings, engine),
    )


def _worker_reconcile(
    settings: Settings, clients: Clients, engine: Engine
) -> ReconcileSchedule | None:
    """The worker's reconcile of the engine's own sinks (one mirror and state store, not two):
    on ``reconcile_interval_hours``, and after a lasting fault; it needs the bucket."""
    interval = settings.reconcile_interval_hours
    if not settings.bucket:
        if interval is not None:
            raise ConfigurationError(
                "BUCKETSYNC_RECONCILE_INTERVAL_HOURS is set but no bucket to reconcile: set "
                "BUCKETSYNC_BUCKET (or S3_BUCKET_NAME)"
            )
        return None
    sinks = listed_sinks(engine)
    if not sinks:
        return None
    mirror_only = all(sink.name == "mirror" for sink in sinks)
    run = march_sinks(
        clients.s3,
        settings.bucket,
        sinks,
        prefix=settings.mirror_prefix if mirror_only else "",
        shards=settings.reconcile_shards,
        workers=settings.reconcile_workers,
        page_size=settings.reconcile_page_size,
        lookup=engine.source,
    )
    return ReconcileSchedule(run, None if interval is None else interval * HOUR)


def build_when_ready(
    build: Callable[[], Worker], stop: threading.Event, backoff: Backoff | None = None
) -> Worker | None:
    """``build()``, tried again with backoff while it fails for a passing fault of ours (the
    mirror's disk full: its state store cannot even be created), so that the worker neither
    crashes nor takes a message before it can apply one. None if ``stop`` came first; any
    other failure is raised."""
    backoff = backoff or Backoff(1.0, 60.0)
    attempt = 0
    while True:
        try:
            return build()
        except Exception as exc:
            if fault_of(exc) is not Fault.TRANSIENT:
                raise
            attempt += 1
            wait = backoff.delay(attempt)
            log.error("worker cannot start yet, trying again in %.0f s: %s", wait, exc)
        if stop.wait(wait):
            return None
