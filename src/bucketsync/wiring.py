"""Build what a runtime needs from one ``Settings`` object: the engine, the worker, the sinks
reconcile marches over."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bucketsync.aws.clients import Clients
from bucketsync.aws.dynamo import ConditionalWriter
from bucketsync.aws.s3 import S3ObjectSource
from bucketsync.engine.pipeline import Engine
from bucketsync.engine.ports import Listable, Sink
from bucketsync.errors import ConfigurationError
from bucketsync.reconcile.run import ReconciledSink
from bucketsync.routes import load_routes
from bucketsync.runtimes.schedule import HOUR, ReconcileSchedule, march_sinks
from bucketsync.runtimes.worker import Worker
from bucketsync.settings import Settings
from bucketsync.sinks.catalog import CatalogSink
from bucketsync.sinks.mirror import MirrorSink
from bucketsync.sinks.records.job import Tuning
from bucketsync.sinks.records.loader import FileLoader
from bucketsync.sinks.records.sink import RecordsSink


def build_mirror(settings: Settings, clients: Clients) -> MirrorSink | None:
    """The local mirror when ``mirror_dir`` (LOCAL_DOWNLOAD_DIR) is set."""
    if not settings.mirror_dir:
        return None
    return MirrorSink(
        clients.s3,
        Path(settings.mirror_dir),
        prefix=settings.mirror_prefix,
        max_file_bytes=int(settings.max_file_size_mb * 1024 * 1024),
        verify=settings.verify_integrity,
        skip_existing=settings.skip_existing,
        concurrency=settings.concurrency,
        read_timeout=settings.download_timeout_seconds,
        bucket=settings.bucket,
        tombstone_ttl_days=settings.tombstone_ttl_days,
    )


def build_catalog(
    settings: Settings, clients: Clients, writer: ConditionalWriter, *, journal: bool = False
) -> CatalogSink:
    """The catalog sink over ``writer`` (listed through the clients' own DynamoDB client)."""
    return CatalogSink(
        writer,
        settings.table,
        reader=clients.dynamodb,
        tombstone_ttl_days=settings.tombstone_ttl_days,
        journal=journal,
        journal_ttl_days=settings.journal_ttl_days,
    )


def build_records(settings: Settings, clients: Clients) -> RecordsSink | None:
    """The records sink, when routing rules are set."""
    routes = load_routes(settings.routes, settings.routes_file)
    if not routes:
        return None
    loader = FileLoader(
        clients.s3,
        clients.dynamodb,
        tuning=Tuning(tombstone_ttl_days=settings.tombstone_ttl_days),
    )
    return RecordsSink(loader, routes, manifest_table=settings.table)


def build_engine(
    settings: Settings, clients: Clients | None = None, *, mirror: MirrorSink | None = None
) -> Engine:
    """The catalog (unless turned off), the records sink when routing rules are set, and the
    mirror when a mirror directory is (``mirror``: one already built, shared with a service)."""
    clients = clients or Clients(settings)
    source = S3ObjectSource(
        clients.s3,
        tags=settings.tags,
        preview_chars=settings.preview_chars if settings.preview else 0,
    )
    sinks: list[Sink] = []
    if settings.catalog:
        # Its own pool: writes are submitted from threads that may hold the lookups'.
        writer = ConditionalWriter(
            clients.dynamodb,
            transact=settings.write_mode == "transact",
            executor=ThreadPoolExecutor(settings.concurrency, thread_name_prefix="bucketsync-db"),
        )
        sinks.append(build_catalog(settings, clients, writer, journal=settings.journal))
    records = build_records(settings, clients)
    if records is not None:
        sinks.append(records)
    mirror = mirror or build_mirror(settings, clients)
    if mirror is not None:
        sinks.append(mirror)
    if not sinks:
        raise ConfigurationError(
            "nothing to sync into: the catalog is off (BUCKETSYNC_CATALOG=false), no routing "
            "rules are set (BUCKETSYNC_ROUTES or BUCKETSYNC_ROUTES_FILE) and no mirror "
            "directory (BUCKETSYNC_MIRROR_DIR or LOCAL_DOWNLOAD_DIR)"
        )
    return Engine(
        source,
        sinks,
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
    sinks = [sink for sink in engine.sinks if isinstance(sink, Listable)]
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


def writes_to(settings: Settings, engine: Engine) -> str:
    """Where the engine writes (table, mirror), for the lines that say why a runtime paused
    or failed."""
    names = {sink.name for sink in engine.sinks}
    where = [f"catalog table {settings.table!r}"] if "catalog" in names else []
    if "mirror" in names and settings.mirror_dir:
        where.append(f"mirror {settings.mirror_dir}")
    return ", ".join(where)


SINK_NAMES = ("catalog", "records", "mirror")


def reconcile_sinks(
    settings: Settings,
    clients: Clients,
    which: Sequence[str] = ("all",),
    *,
    write_mode: str | None = None,
    workers: int | None = None,
) -> list[ReconciledSink]:
    """The sinks ``which`` names ("all": every one the settings configure), built to be
    listed and repaired. Naming a sink the settings do not configure is an error."""
    wanted = set(SINK_NAMES) if "all" in which else set(which)
    explicit = "all" not in which
    unknown = wanted - set(SINK_NAMES)
    if unknown:
        raise ConfigurationError(f"no sink named {', '.join(sorted(unknown))}: {SINK_NAMES}")
    sinks: list[ReconciledSink] = []
    if "catalog" in wanted and (settings.catalog or explicit):
        mode = write_mode or settings.reconcile_write_mode
        threads = workers or settings.reconcile_workers
        writer = ConditionalWriter(
            clients.client("dynamodb", validate=False),  # a backfill is CPU-bound on it
            transact=mode == "transact",
            executor=ThreadPoolExecutor(threads, thread_name_prefix="bucketsync-db"),
        )
        sinks.append(build_catalog(settings, clients, writer))
    if "records" in wanted:
        records = build_records(settings, clients)
        if records is not None:
            sinks.append(records)
        elif explicit:
            raise ConfigurationError(
                "--sink records, but no routing rules are set (BUCKETSYNC_ROUTES or "
                "BUCKETSYNC_ROUTES_FILE)"
            )
    if "mirror" in wanted:
        mirror = build_mirror(settings, clients)
        if mirror is not None:
            sinks.append(mirror)
        elif explicit:
            raise ConfigurationError(
                "--sink mirror, but no mirror directory is set (BUCKETSYNC_MIRROR_DIR)"
            )
    if not sinks:
        raise ConfigurationError("no sink to reconcile: the settings configure none")
    return sinks
