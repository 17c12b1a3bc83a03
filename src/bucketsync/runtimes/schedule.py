"""The worker's own reconcile, so a sink that missed something recovers without a person.

Events alone never repair what they did not carry: a file the mirror failed to write, an event
dead-lettered or never sent. A worker configured with ``reconcile_interval_hours`` marches its
sinks against the bucket at start and then on that interval; and any worker that knows its
bucket does so once after a lasting fault clears (``trigger``). One run at a time, on a daemon
thread; a trigger during a run asks for one more run after it, not for several.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bucketsync.engine.ports import ObjectSource
from bucketsync.reconcile.listing import S3Listing
from bucketsync.reconcile.report import Report
from bucketsync.reconcile.run import Options, ReconciledSink, Reconciler
from bucketsync.reconcile.shards import plan

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

HOUR = 3600.0
STOP_WAIT = 5.0  # seconds stop() waits for a run to notice its cancel
RunReconcile = Callable[[threading.Event], Report]


class ReconcileSchedule:
    def __init__(self, run: RunReconcile, interval: float | None) -> None:
        """``run(cancel)`` is one reconcile; ``interval`` seconds between two (None: only
        when triggered)."""
        if interval is not None and interval <= 0:
            raise ValueError(f"interval must be positive, not {interval}")
        self.interval = interval
        self.runs = 0
        self.last: Report | None = None
        self._run = run
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._why = "at start"
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        if self.interval is not None:
            self._wake.set()  # at start: the worker may have been down a while
        self._thread = threading.Thread(target=self._loop, name="bucketsync-reconcile", daemon=True)
        self._thread.start()

    def trigger(self, why: str) -> None:
        """Run as soon as possible (at once, or after the run under way)."""
        self._why = why
        self._wake.set()

    def stop(self) -> None:
        """Cancel the run under way (it deletes nothing then) and end the schedule."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            if self._stop.is_set():
                return
            why = self._why if self._wake.is_set() else "on schedule"
            self._wake.clear()
            self._why = "on schedule"
            try:
                self.last = self._run(self._stop)
            except Exception:  # the schedule outlives any one run
                log.exception("reconcile (%s) failed", why)
                continue
            finally:
                self.runs += 1
            drift = {name: sink.drift for name, sink in self.last.sinks.items()}
            repaired = {name: sink.repaired for name, sink in self.last.sinks.items()}
            log.info(
                "reconcile (%s): %d listed, drift %s, repaired %s, %d error(s) in %.1f s",
                why,
                self.last.listed,
                drift,
                repaired,
                len(self.last.errors),
                self.last.seconds,
            )


def march_sinks(
    s3: S3Client,
    bucket: str,
    sinks: Sequence[ReconciledSink],
    *,
    prefix: str = "",
    shards: int = 4,
    workers: int = 16,
    page_size: int = 1000,
    lookup: ObjectSource | None = None,
) -> RunReconcile:
    """One reconcile of ``sinks`` (the engine's own: one mirror, one state store) against
    ``bucket``/``prefix``, as ``bucketsync reconcile`` runs it. With ``lookup`` (the engine's
    source), a drifted key is looked up first, so a repaired catalog item carries what an
    event's would (content type, metadata); keys in step cost no lookup."""

    def run(cancel: threading.Event) -> Report:
        listing = S3Listing(s3, bucket, prefix, page_size=page_size)
        options = Options(workers=workers, parallel=max(1, shards), head=lookup is not None)
        reconciler = Reconciler(listing, sinks, options=options, lookup=lookup)
        return reconciler.run(plan(s3, bucket, prefix, shards), cancel=cancel)

    return run
