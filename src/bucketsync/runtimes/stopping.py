"""How a worker stops: on SIGINT or SIGTERM, waiting for the batches being applied, and no more.

A stop must not wait out SQS's long poll (up to 20 s, with nothing to show for it), but must
let every batch being applied finish and be deleted: a batch cut short is applied again when
it comes back, but a worker told to stop should leave nothing in flight. So a thread counts
as busy from the moment its receive returns messages until they are settled; ``run`` waits for
the busy count to reach zero and leaves the threads still in a receive behind (daemons). One
that gets messages after the stop hands them straight back (``claim`` says no), unapplied.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)


class InFlight:
    def __init__(self) -> None:
        self._busy = 0
        self._changed = threading.Condition()

    def claim(self, stop: threading.Event | None) -> bool:
        """Count the caller busy, unless ``stop`` is set: then it must hand back what it got.
        Under the lock, so that no batch starts once ``wait_idle`` has begun to wait."""
        with self._changed:
            if stop is not None and stop.is_set():
                return False
            self._busy += 1
            return True

    def release(self) -> None:
        with self._changed:
            self._busy -= 1
            self._changed.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Until no batch is being applied (call after setting the stop); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._busy == 0, timeout)


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGINT and SIGTERM ask the worker to finish its in-flight batches and stop."""

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("%s received: finishing in-flight batches", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
