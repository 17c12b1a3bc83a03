"""What the routes call: the engine and mirror the service runs, and its counters.

``service_parts`` is the one place the service's engine is built (``bucketsync.compose``);
``Service`` is everything a route needs, created once per app and stopped at shutdown: the
periodic full sync, the queue poller (``queue=True``), the activity the status page shows.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from bucketsync.api.activity import Activity, RecordingSink
from bucketsync.api.auth import auth_configured
from bucketsync.api.health import S3Check, check_directory, check_s3
from bucketsync.api.jobs import SyncRunner, summary_of
from bucketsync.api.models import (
    ActivityView,
    AuthInfo,
    ConfigView,
    Health,
    LastSync,
    NotificationCounters,
    NotificationResult,
    Stats,
)
from bucketsync.api.queue import QueueFeed
from bucketsync.aws.clients import Clients
from bucketsync.compose import build_mirrored
from bucketsync.engine.pipeline import Engine
from bucketsync.errors import ConfigurationError, MalformedEventError, RejectedError, is_retryable
from bucketsync.events import parse_message
from bucketsync.reconcile import PeriodicSync
from bucketsync.settings import Settings
from bucketsync.sinks.mirror import MirrorSink

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

MESSAGE_ID = "http"  # each request is one unit of delivery: it succeeds or fails whole
HOUR = 3600.0


@dataclass(frozen=True)
class ServiceParts:
    """``activity`` sees every update the engine hands the mirror; parts built elsewhere,
    without it, show only what the service itself does (syncs, refusals)."""

    engine: Engine
    mirror: MirrorSink
    clients: Clients
    activity: Activity = field(default_factory=Activity)


def service_parts(settings: Settings, clients: Clients | None = None) -> ServiceParts:
    """The mirror, and the engine that feeds it (plus the catalog and records, if set)."""
    clients = clients or Clients(settings)
    engine, mirror = build_mirrored(settings, clients)
    return ServiceParts(engine, mirror, clients, observe(engine, mirror))


def observe(engine: Engine, mirror: MirrorSink) -> Activity:
    """What the status page shows: every update ``engine`` hands ``mirror``, from now on."""
    activity = Activity()
    # Notifications and the queue worker both go through the engine: one place sees both.
    engine.sinks = [RecordingSink(s, activity) if s is mirror else s for s in engine.sinks]
    return activity


class Service:
    """The service's state. ``owns_parts``: close the engine (and so the mirror) at stop.
    ``queue``: poll ``settings.queue_url`` into the engine while the service runs."""

    def __init__(
        self, settings: Settings, parts: ServiceParts, *, owns_parts: bool, queue: bool = False
    ) -> None:
        self.settings = settings
        self.parts = parts
        self.owns_parts = owns_parts
        self.activity = parts.activity
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
            parts.mirror,
            parts.clients.s3,
            settings.bucket,
            periodic=self.periodic,
            diagnose=self.check_s3,
            activity=self.activity,
        )
        # Built now, so a queue that cannot be polled (no URL) fails before the port is bound.
        self.queue = (
            QueueFeed(settings, parts.clients, parts.engine, self.activity) if queue else None
        )
        self._counts = {"received": 0, "applied": 0, "ignored": 0, "failed": 0}
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
        if self.queue is not None:
            self.queue.start()

    def stop(self) -> None:
        if self.periodic is not None:
            self.periodic.stop()
        self.runner.stop()
        if self.queue is not None:
            self.queue.stop()  # its batches finish before the engine closes under them
        if self.owns_parts:
            self.parts.engine.close()

    # -- notifications --------------------------------------------------------------------------

    def notify(self, body: bytes) -> NotificationResult:
        """Apply the changes one request carries; raises what the route turns into a status."""
        self._count("received")
        try:
            result = self._notify(body)
        except BaseException as exc:
            self._count("failed")
            self.activity.error("notification", f"not applied: {exc}")
            raise
        self._count(result.status)
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

    def check_s3(self) -> S3Check:
        return check_s3(self._probe, self.settings.bucket)

    def health(self) -> Health:
        s3 = self.check_s3()
        dir_problem = check_directory(self.parts.mirror.root)
        queue = self.queue.status() if self.queue is not None else None
        queue_problem = ""
        if self.queue is not None and queue is not None and not self.queue.healthy:
            queue_problem = f"polling the queue fails ({queue.failing_polls} in a row): "
            queue_problem += queue.last_error or ""
        problems = [p for p in (s3.message, dir_problem, queue_problem) if p]
        return Health(
            status="unhealthy" if problems else "healthy",
            message="; ".join(problems)
            or "bucketsync is running: S3 is reachable and the mirror directory is writable",
            s3_connection=s3.ok,
            download_directory=str(self.parts.mirror.root),
            directory_writable=not dir_problem,
            timestamp=datetime.now(UTC),
            s3_status=s3.status,
            queue=queue,
        )

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
            queue=self.queue.status() if self.queue is not None else None,
        )

    def activity_view(self) -> ActivityView:
        """The status page's feed: cheap enough to ask every few seconds (no S3 call)."""
        last, source = self.runner.last()
        last_sync = None
        if last is not None and source is not None:
            summary = summary_of(last)
            last_sync = LastSync(
                status=summary.status,
                message=summary.message,
                source=source,
                finished_at=datetime.fromtimestamp(last.started_at + last.seconds, UTC),
            )
        store = self.parts.mirror.store.stats()
        with self._counts_lock:
            counts = NotificationCounters(**self._counts)
        return ActivityView(
            generated_at=datetime.now(UTC),
            bucket=self.settings.bucket,
            objects=store["files"],
            bytes=store["bytes"],
            last_sync=last_sync,
            sync_running=self.runner.running,
            notifications=counts,
            queue=self.queue.status() if self.queue is not None else None,
            minutes=self.activity.minutes(),
            changes=self.activity.changes(),
            errors=self.activity.errors(),
        )
