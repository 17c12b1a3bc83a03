"""When the worker may take new messages: not while it holds messages failed for a fault of ours.

    running ──(a message failed for a fault of ours: it is held)──► paused
    paused:  the held messages are tried again after 1, 2, 4 ... 60 s; no new message is
             taken, except one probe batch after 5, 10, 20 ... 60 minutes
    paused ──(the held messages went through)──► running: "resumed" (the fault cleared)
    paused ──(a probe batch went through)──────► running: the held messages failed for their
             own reasons after all, and are handed back to SQS with their backoff

Retrying the held messages costs no receive, so however long the pause, no message nears the
DLQ (up to SQS's 12 hours, see ``visibility``). The probe is how a fault that looked like ours
but was one message's (an object no role may read, say) is told apart, by behaviour: the other
messages go through. The worker's threads share one ``Pause``; ``take`` hands a retry or a
probe to one of them at a time.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bucketsync.errors import Fault

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """``first`` seconds, doubling with each attempt, ``cap`` at most."""

    first: float = 1.0
    cap: float = 60.0

    def delay(self, attempt: int) -> float:
        return float(min(self.cap, self.first * 2 ** max(0, attempt - 1)))


class Action(enum.Enum):
    RECEIVE = "receive"  # running: take new messages
    RETRY = "retry"  # paused: try the held messages again
    PROBE = "probe"  # paused: take one batch, to see whether the fault is theirs


@dataclass(frozen=True)
class Resumed:
    """A pause that ended: its worst fault and how long it lasted."""

    fault: Fault
    seconds: float
    reason: str


class Pause:
    def __init__(
        self,
        retry: Backoff | None = None,
        probe: Backoff | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retry = retry or Backoff(1.0, 60.0)
        self.probe = probe or Backoff(300.0, 3600.0)
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None
        self._fault = Fault.TRANSIENT
        self._reason = ""
        self._attempts = 0
        self._probes = 0
        self._next_retry = 0.0
        self._next_probe = 0.0
        self._busy = False  # a retry or a probe is under way

    @property
    def paused(self) -> bool:
        with self._lock:
            return self._since is not None

    @property
    def fault(self) -> Fault | None:
        with self._lock:
            return None if self._since is None else self._fault

    def take(self) -> Action | float:
        """What this thread does now, or how many seconds it waits before asking again."""
        with self._lock:
            if self._since is None:
                return Action.RECEIVE
            if self._busy:
                return min(self.retry.first, 1.0)
            now = self._clock()
            if now >= self._next_retry:
                self._busy = True
                return Action.RETRY
            if now >= self._next_probe:
                self._busy = True
                self._probes += 1
                return Action.PROBE
            return min(self._next_retry, self._next_probe) - now

    def idle(self) -> None:
        """The retry or probe this thread took is over, whatever became of it (only the
        thread that took one calls this)."""
        with self._lock:
            self._busy = False

    def failed(self, fault: Fault, reason: str, held: int) -> None:
        """Messages failed for a fault of ours and are held: pause, or stay paused."""
        with self._lock:
            now = self._clock()
            first = self._since is None
            if first:
                self._since, self._attempts, self._probes = now, 0, 0
                self._next_probe = now + self.probe.delay(1)
                self._fault = fault
            elif fault is Fault.CONFIGURATION:
                self._fault = fault  # the worst seen decides what follows the pause
            self._attempts += 1
            self._reason = reason
            wait = self.retry.delay(self._attempts)
            self._next_retry = now + wait
            if self._next_probe <= now:  # a probe failed too: the next one later
                self._next_probe = now + self.probe.delay(self._probes + 1)
        if first:
            log.error(
                "worker paused: %s fault, %d message(s) kept and none taken meanwhile "
                "(retried in %.0f s, with backoff): %s",
                fault.value,
                held,
                wait,
                reason,
            )
        else:
            log.info(
                "still paused (%s, %d held, try %d): next in %.0f s: %s",
                fault.value,
                held,
                self._attempts,
                wait,
                reason,
            )

    def probed(self) -> None:
        """A probe told nothing (an empty queue, or it failed too): the next one later."""
        with self._lock:
            if self._since is not None:
                self._next_probe = self._clock() + self.probe.delay(self._probes + 1)

    def resume(self, why: str) -> Resumed | None:
        """Take messages again; what the pause was, if there was one."""
        with self._lock:
            since, self._since = self._since, None
            if since is None:
                return None
            resumed = Resumed(self._fault, self._clock() - since, self._reason)
        log.warning(
            "worker resumed after %.0f s (%s): %s", resumed.seconds, why, resumed.fault.value
        )
        return resumed
