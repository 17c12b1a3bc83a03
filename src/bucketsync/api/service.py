"""What the routes call: the engine and mirror the service runs, and its counters.

``service_parts`` is the one place the service's engine is built (``bucketsync.wiring``);
``Service`` is everything a route needs, created once per app and stopped at shutdown.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.api.auth import auth_configured
from bucketsync.api.errors import RejectedError
from bucketsync.api.jobs import SyncRunner, summary_of
from bucketsync.api.models import (
    AuthInfo,
    ConfigView,
    Health,
    NotificationCounters,
    NotificationResult,
    Stats,
)
from bucketsync.aws.clients import Clients
from bucketsync.aws.errors import translate
from bucketsync.engine.pipeline import Engine
from bucketsync.errors import ConfigurationError, MalformedEventError, is_retryable
from bucketsync.events import parse_message
from bucketsync.reconcile.periodic import PeriodicSync
from bucketsync.settings import Settings
from bucketsync.sinks.mirror import MirrorSink
from bucketsync.sinks.mirror.download import TEMP_PREFIX
from bucketsync.wiring import build_engine, build_mirror

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

MESSAGE_ID = "http"  # each request is one unit of delivery: it succeeds or fails whole
HOUR = 3600.0


@dataclass(frozen=True)
class ServiceParts:
    engine: Engine
    mirror: MirrorSink
    clients: Clients


def service_parts(settings: Settings, clients: Clients | None = None) -> ServiceParts:
    """The mirror, and the engine that feeds it (plus the catalog and records, if set)."""
    clients = clients or Clients(settings)
    mirror = build_mirror(settings, clients)
    if mirror is None:
        raise ConfigurationError(
            "the service needs a mirror directory: set BUCKETSYNC_MIRROR_DIR (or "
            "LOCAL_DOWNLOAD_DIR) or pass --mirror-dir"
        )
    try:
        engine = build_engine(settings, clients, mirror=mirror)
    except BaseException:
        mirror.close()
        raise
    return ServiceParts(engine, mirror, clients)


class Service:
    """The service's state. ``owns_parts``: close the engine (and so the mirror) at stop."""

    def __init__(self, settings: Settings, parts: ServiceParts, *, owns_parts: bool) -> None:
        self.settings = settings
        self.parts = parts
        self.owns_parts = owns_parts
        self.started_at = datetime.now(UTC)
        self._started = time.monotonic()
        self.periodic: PeriodicSync | None = None
        if settings.periodic_sync and settings.bucket:
            self.periodic = PeriodicSync(
                parts.mirror,
                parts.clients.s3,
                settings.bucket,
                settings.sync_interval_hours * HOUR,
                run_now=True,  # a new mirror should not stay empty for an interval
            )
        self.runner = SyncRunner(
            parts.mirror, parts.clients.s3, settings.bucket, periodic=self.periodic
        )
        self._counts = {"received": 0, "applied": 0, "failed": 0}
        self._counts_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if not auth_configured(self.settings):
            log.warning(
                "no API token or HMAC secret is set: POST routes are unauthenticated, so this "
                "service must listen on loopback only (bucketsync serve enforces it)"
            )
        if self.periodic is not None:
            self.periodic.start()
            log.info("full sync every %g h", self.settings.sync_interval_hours)

    def stop(self) -> None:
        if self.periodic is not None:
            self.periodic.stop()
        self.runner.stop()
        if self.owns_parts:
            self.parts.engine.close()

    # -- notifications --------------------------------------------------------------------------

    def notify(self, body: bytes) -> NotificationResult:
        """Apply the changes one request carries; raises what the route turns into a status."""
        self._count("received")
        try:
            result = self._notify(body)
        except BaseException:
            self._count("failed")
            raise
        self._count("applied")
        return result

    def _notify(self, body: bytes) -> NotificationResult:
        changes = parse_message(body)
        bucket = self.settings.bucket
        foreign = sorted({change.bucket for change in changes} - {bucket}) if bucket else []
        if foreign:
            # The mirror writes by key alone: another bucket's objects would land in this one's.
            raise RejectedError(
                f"events of bucket {', '.join(foreign)}; this service mirrors {bucket}"
            )
        if not changes:
            return NotificationResult(
                status="ignored",
                message="no object changes in this body (an s3:TestEvent, or events ignored)",
                changes=0,
                keys=0,
                outcomes={},
            )
        report = self.parts.engine.process_changes(changes, MESSAGE_ID)
        failure = report.failures.get(MESSAGE_ID)
        if failure is not None:
            if is_retryable(failure) or isinstance(
                failure, ConfigurationError | MalformedEventError
            ):
                raise failure
            # Anything else will fail the same way again: poison, so the sender stops retrying.
            raise RejectedError(f"not applied: {failure}") from failure
        return NotificationResult(
            status="applied",
            message=f"{len(changes)} change(s) to {report.keys} key(s) applied",
            changes=report.changes,
            keys=report.keys,
            outcomes=report.outcomes,
        )

    def _count(self, name: str) -> None:
        with self._counts_lock:
            self._counts[name] += 1

    # -- reads ----------------------------------------------------------------------------------

    @cached_property
    def _probe(self) -> S3Client:
        """A client that tries once: a health check must answer fast, not retry for a minute."""
        clients = self.parts.clients
        return Clients(clients.settings.override(max_attempts=1), clients.counter).s3

    def health(self) -> Health:
        s3_problem = self._check_s3()
        dir_problem = self._check_directory()
        problems = [p for p in (s3_problem, dir_problem) if p]
        return Health(
            status="unhealthy" if problems else "healthy",
            message="; ".join(problems)
            or "bucketsync is running: S3 is reachable and the mirror directory is writable",
            s3_connection=not s3_problem,
            download_directory=str(self.parts.mirror.root),
            directory_writable=not dir_problem,
            timestamp=datetime.now(UTC),
        )

    def _check_s3(self) -> str:
        bucket = self.settings.bucket
        try:
            if bucket:
                self._probe.head_bucket(Bucket=bucket)
            else:
                self._probe.list_buckets()
        except (ClientError, BotoCoreError) as exc:
            return (
                f"S3 is not reachable: {translate(exc, 'HeadBucket' if bucket else 'ListBuckets')}"
            )
        return ""

    def _check_directory(self) -> str:
        root = self.parts.mirror.root
        try:
            # The mirror's own temporary-file prefix: a full sync never counts it as a user's.
            handle, name = tempfile.mkstemp(dir=root, prefix=TEMP_PREFIX + "health-")
            os.close(handle)
            os.unlink(name)
        except OSError as exc:
            return f"the mirror directory {root} is not writable: {exc.strerror or exc}"
        return ""

    def config(self) -> ConfigView:
        settings = self.settings
        return ConfigView(
            settings=settings.redacted(),
            auth=AuthInfo(
                bearer=settings.api_token is not None,
                hmac=settings.hmac_secret is not None,
                required=auth_configured(settings),
                loopback_only=not auth_configured(settings),
            ),
        )

    def stats(self) -> Stats:
        last, source = self.runner.last()
        with self._counts_lock:
            counts = NotificationCounters(**self._counts)
        return Stats(
            uptime_seconds=round(time.monotonic() - self._started, 3),
            started_at=self.started_at,
            notifications=counts,
            mirror=self.parts.mirror.counters(),
            store=self.parts.mirror.store.stats(),
            sync_running=self.runner.running,
            last_sync=summary_of(last) if last is not None else None,
            last_sync_source=source,
        )
