"""Build what a runtime needs from one ``Settings`` object: the engine and its sinks, the sinks
reconcile marches over.

The one place parts are put together: runtimes, the service, the CLI and the demo ask here for
what they run, and only add what is their own (``runtimes.build`` makes the worker of these
parts). Nothing here imports a runtime, so every runtime may import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bucketsync.aws.clients import Clients
from bucketsync.aws.dynamo import ConditionalWriter
from bucketsync.aws.s3 import S3ObjectSource
from bucketsync.engine.pipeline import Engine
from bucketsync.engine.ports import Listable, Sink
from bucketsync.errors import ConfigurationError
from bucketsync.reconcile.mirror import rebuild as rebuild_mirror
from bucketsync.reconcile.run import ReconciledSink
from bucketsync.record_routes import load_routes
from bucketsync.settings import Settings
from bucketsync.sinks.catalog import CatalogSink
from bucketsync.sinks.mirror import MirrorSink
from bucketsync.sinks.records.job import Tuning
from bucketsync.sinks.records.loader import FileLoader
from bucketsync.sinks.records.sink import RecordsSink


def build_mirror(settings: Settings, clients: Clients) -> MirrorSink | None:
    """The local mirror when ``mirror_dir`` (LOCAL_DOWNLOAD_DIR) is set. A lost or corrupt
    state store is rebuilt by reconcile's full sync, which the sink asks for before its next
    batch (the sinks cannot import reconcile: it is handed in here, for every runtime)."""
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
        rebuild=rebuild_mirror,
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


def build_loader(settings: Settings, clients: Clients) -> FileLoader:
    """What loads a file's rows into its table: the records sink's, and ``bucketsync load``'s."""
    return FileLoader(
        clients.s3,
        clients.dynamodb,
        tuning=Tuning(tombstone_ttl_days=settings.tombstone_ttl_days),
    )


def build_records(settings: Settings, clients: Clients) -> RecordsSink | None:
    """The records sink, when routing rules are set."""
    routes = load_routes(settings.routes, settings.routes_file)
    if not routes:
        return None
    return RecordsSink(build_loader(settings, clients), routes, manifest_table=settings.table)


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


@dataclass(frozen=True)
class Parts:
    """An engine and, when it has one, the mirror among its sinks: the one a service in the
    same process serves, so both see one state store."""

    engine: Engine
    mirror: MirrorSink | None


def build_parts(settings: Settings, clients: Clients | None = None) -> Parts:
    """``build_engine``, with its mirror named."""
    clients = clients or Clients(settings)
    mirror = build_mirror(settings, clients)
    return Parts(_engine_over(settings, clients, mirror), mirror)


def build_mirrored(settings: Settings, clients: Clients | None = None) -> tuple[Engine, MirrorSink]:
    """The engine and its mirror, for a runtime that serves the mirror: it needs one."""
    clients = clients or Clients(settings)
    mirror = build_mirror(settings, clients)
    if mirror is None:
        raise ConfigurationError(
            "the service needs a mirror directory: set BUCKETSYNC_MIRROR_DIR (or "
            "LOCAL_DOWNLOAD_DIR) or pass --mirror-dir"
        )
    return _engine_over(settings, clients, mirror), mirror


def _engine_over(settings: Settings, clients: Clients, mirror: MirrorSink | None) -> Engine:
    try:
        return build_engine(settings, clients, mirror=mirror)
    except BaseException:
        if mirror is not None:
            mirror.close()  # its store is open: nothing else will close it
        raise


def listed_sinks(engine: Engine) -> list[ReconciledSink]:
    """The engine's own sinks that reconcile can list and repair (one mirror and state store
    shared with the engine, not a second)."""
    return [sink for sink in engine.sinks if isinstance(sink, Listable)]


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
