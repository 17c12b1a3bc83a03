"""A full sync every ``interval`` seconds on a daemon thread, stoppable within a second."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from bucketsync.engine.stamp import ObservationClock
from bucketsync.reconcile.mirror import SyncReport, full_sync
from bucketsync.sinks.mirror import MirrorSink

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

STOP_WAIT = 0.9  # seconds stop() waits for the thread: a download under way finishes alone


class PeriodicSync:
    """Runs ``full_sync`` now and then. ``last`` is the latest report, ``running`` whether the
    thread is alive, ``busy`` whether a run is under way (from the thread or ``run_once``)."""

    def __init__(
        self,
        sink: MirrorSink,
        s3: S3Client,
        bucket: str,
        interval: float,
        *,
        prefix: str = "",
        run_now: bool = False,
        clock: ObservationClock | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval}")
        self.sink = sink
        self.bucket = bucket
        self.interval = interval
        self.prefix = prefix
        self.run_now = run_now
        self.last: SyncReport | None = None
        self.last_error: str | None = None
        self.next_run: float | None = None  # time.time() of the next scheduled run
        self._s3 = s3
        self._clock = clock or ObservationClock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._run_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def busy(self) -> bool:
        return self._run_lock.locked()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="mirror-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the schedule and the run under way (nothing more starts; nothing is deleted)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT)

    def trigger(self) -> None:
        """Run as soon as possible rather than at the next scheduled time."""
        self._wake.set()

    def run_once(self) -> SyncReport:
        """One full sync now; runs never overlap (a second waits for the first).

        ``stop()`` cancels it too: after ``stop()`` it returns at once, deleting nothing.
        """
        with self._run_lock:
            report = full_sync(
                self.sink,
                self._s3,
                self.bucket,
                prefix=self.prefix,
                clock=self._clock,
                cancel=self._stop,
            )
            self.last = report
            return report

    def _loop(self) -> None:
        wait = 0.0 if self.run_now else self.interval
        while not self._stop.is_set():
            self.next_run = time.time() + wait
            self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.run_once()
                self.last_error = None
            except Exception as exc:  # the schedule outlives any one run
                self.last_error = str(exc)
                log.exception("periodic full sync failed")
            wait = self.interval
        self.next_run = None
