"""The SQS worker inside the service: with ``BUCKETSYNC_QUEUE_URL`` set, ``bucketsync serve``
hears the bucket's events by itself, with no forwarder and no separate ``bucketsync worker``.

It is the worker's own poll (``Worker.poll_once``: delete what applied, back off what failed)
on the service's engine, on daemon threads started and stopped with the app. What the loop
adds is what a service must show: each failed poll is kept (``failing_polls``, the last error,
when) for ``/api/v1/stats`` and ``/api/v1/health``, and the loop backs off instead of dying.

The long poll is capped at ``LONG_POLL_SECONDS`` so that a stop (SIGTERM) waits for the
threads a few seconds at most and never abandons a batch in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from bucketsync.api.activity import Activity
from bucketsync.api.models import QueueStatus
from bucketsync.aws.clients import Clients
from bucketsync.engine.pipeline import Engine
from bucketsync.runtimes.build import build_worker
from bucketsync.runtimes.worker import STOP_GRACE_SECONDS, Worker
from bucketsync.settings import Settings

log = logging.getLogger(__name__)

LONG_POLL_SECONDS = 5
MAX_BACKOFF_SECONDS = 30.0
UNHEALTHY_AFTER = 2  # polls failed in a row: one is a blip, two is an outage


class QueueFeed:
    def __init__(
        self, settings: Settings, clients: Clients, engine: Engine, activity: Activity
    ) -> None:
        wait = min(settings.wait_time_seconds, LONG_POLL_SECONDS)
        self.worker: Worker = build_worker(
            settings.override(wait_time_seconds=wait), clients, engine=engine
        )
        self.queue_url = self.worker.queue_url
        self.activity = activity
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._failing = 0
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        self._last_poll_at: datetime | None = None

    def start(self) -> None:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._loop, name=f"service-queue-{n}", daemon=True)
            for n in range(self.worker.threads)
        ]
        for thread in self._threads:
            thread.start()
        log.info(
            "polling %s with %d threads",
            self.queue_url,
            self.worker.threads,
            extra={"queue_url": self.queue_url, "threads": self.worker.threads},
        )

    def stop(self) -> None:
        """Finish the batches being applied, hand back what is held, and return: a thread
        still in a long poll is left behind (a daemon) and hands back what it gets."""
        self._stop.set()
        self.worker.inflight.wait_idle()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.worker.close()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    @property
    def healthy(self) -> bool:
        with self._lock:
            return self._failing < UNHEALTHY_AFTER

    def status(self) -> QueueStatus:
        stats = self.worker.stats
        with self._lock:
            return QueueStatus(
                queue_url=self.queue_url,
                running=self.running,
                received=stats.received,
                succeeded=stats.succeeded,
                failed=stats.failed,
                failing_polls=self._failing,
                last_error=self._last_error,
                last_error_at=self._last_error_at,
                last_poll_at=self._last_poll_at,
            )

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                cycle = self.worker.poll_once(stop=self._stop)
            except Exception as exc:  # a queue outage must not end the polling
                failing = self._failed(exc)
                self._stop.wait(min(MAX_BACKOFF_SECONDS, 0.5 * 2**failing))
                continue
            with self._lock:
                self._failing = 0
                self._last_poll_at = datetime.now(UTC)
            if cycle.failed:
                self.activity.error(
                    "queue",
                    f"{cycle.failed} of {cycle.received} message(s) not applied: they return "
                    "to the queue, and reach its DLQ after its maxReceiveCount",
                )

    def _failed(self, exc: Exception) -> int:
        now = datetime.now(UTC)
        with self._lock:
            self._failing += 1
            self._last_error, self._last_error_at, self._last_poll_at = str(exc), now, now
            failing = self._failing
        log.error(
            "polling %s failed (%d in a row): %s",
            self.queue_url,
            failing,
            exc,
            extra={"queue_url": self.queue_url, "failing_polls": failing},
        )
        self.activity.error("queue", f"polling the queue failed: {exc}")
        return failing
