"""How long SQS keeps the messages a runtime holds out of sight: extended while they are worked
on, set to a backoff when they are handed back (the SQS calls themselves: ``aws.queues``).

    ReceiveMessage ──► track ──► heartbeat: each handle within half a timeout of coming back is
                                 extended to a full timeout from now (10 a request)
                   ──► untrack: deleted, or handed back (0 s for poison, a backoff for ours)

SQS lets a message stay out of sight at most 12 hours after the receive that took it, and
refuses a ChangeMessageVisibility past that, so a message held that long is *lost* to the
heartbeat: it comes back to the queue, and counts one more receive when it is taken again.
The heartbeat's thread runs only while something is tracked. When a worker is killed, its
messages come back one timeout after their last extension at most.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bucketsync.aws.queues import change_visibility, visibility_timeout
from bucketsync.errors import BucketSyncError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

MAX_VISIBILITY_SECONDS = 12 * 3600  # from the receive (ChangeMessageVisibility's limit)
SAFETY_SECONDS = 5  # of the 12 hours, kept for the request's own travel time
RETRY_BASE_SECONDS = 60
RETRY_CAP_SECONDS = 3600
DEFAULT_TIMEOUT_SECONDS = 30  # SQS's default visibility timeout


def backoff_seconds(receives: int) -> int:
    """How long a message failed for a fault of ours stays out of sight before SQS hands it
    out again: 60 s after a first receive, then 2, 4, 8 ... minutes, an hour at most. With the
    usual 3 to 5 receives before the DLQ, an outage of 7 to 30 minutes reaches no DLQ."""
    return int(min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, receives - 1)))


def queue_url_of(arn: str, endpoint_url: str | None = None) -> str:
    """The queue URL for ``arn:<partition>:sqs:<region>:<account>:<name>`` (what an SQS event's
    ``eventSourceARN`` carries), on ``endpoint_url`` when one is set (the emulator)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    partition, region, account, name = parts[1], parts[3], parts[4], parts[5]
    if endpoint_url:
        return f"{endpoint_url.rstrip('/')}/{account}/{name}"
    domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{domain}/{account}/{name}"


def queue_visibility_timeout(sqs: SQSClient, queue_url: str) -> int:
    """The queue's own visibility timeout (SQS's default when it cannot be read)."""
    try:
        seconds = visibility_timeout(sqs, queue_url)
    except (BucketSyncError, ValueError) as exc:
        assumed = DEFAULT_TIMEOUT_SECONDS
        log.warning("visibility timeout unknown, %d s assumed: %s", assumed, exc)
        return assumed
    return DEFAULT_TIMEOUT_SECONDS if seconds is None else seconds


@dataclass(slots=True)
class _Tracked:
    received: float  # clock() just before the receive that took it
    expires: float  # clock() when SQS hands it out again, as far as we know


class Heartbeat:
    """Keeps tracked messages out of sight while they are worked on."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        timeout: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.timeout = max(1, timeout)
        # Woken at least 4 times a timeout, extending at half of it: a quarter of the timeout
        # is left for a slow request.
        self.tick = max(0.2, min(self.timeout / 4, 10.0))
        self.extensions = 0  # handles extended, for tests and logs
        self._clock = clock
        self._tracked: dict[str, _Tracked] = {}
        self._lost: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def track(self, handles: Iterable[str], received: float | None = None) -> None:
        """Watch ``handles``, taken by a receive that started at ``received`` (default: now)."""
        at = self._clock() if received is None else received
        with self._lock:
            for handle in handles:
                self._tracked[handle] = _Tracked(at, at + self.timeout)
            if self._tracked and self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="bucketsync-visibility", daemon=True
                )
                self._thread.start()

    def untrack(self, handles: Iterable[str]) -> None:
        with self._lock:
            for handle in handles:
                self._tracked.pop(handle, None)
                self._lost.discard(handle)

    def lost(self) -> set[str]:
        """Handles no longer ours: past the 12 hours, or refused by SQS."""
        with self._lock:
            return set(self._lost)

    def age(self, handle: str) -> float:
        """Seconds since the receive that took ``handle`` (0 if not tracked)."""
        with self._lock:
            tracked = self._tracked.get(handle)
        return 0.0 if tracked is None else self._clock() - tracked.received

    def stop(self) -> None:
        """Forget everything; the thread ends at its next wake."""
        with self._lock:
            self._tracked.clear()
            self._lost.clear()
        self._wake.set()

    # -- the thread --------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.tick)
            self._wake.clear()
            with self._lock:
                if not self._tracked:
                    self._thread = None  # under the lock: a track() now starts a new one
                    return
            self.beat()

    def beat(self) -> None:
        """Extend every tracked handle within half a timeout of coming back."""
        now = self._clock()
        due: list[tuple[str, int]] = []
        with self._lock:
            for handle, tracked in self._tracked.items():
                if handle in self._lost or tracked.expires - now > self.timeout / 2:
                    continue
                room = MAX_VISIBILITY_SECONDS - SAFETY_SECONDS - (now - tracked.received)
                seconds = int(min(self.timeout, room))
                if seconds < 1:
                    self._lost.add(handle)
                    log.warning("a message was held 12 hours: SQS hands it out again")
                    continue
                due.append((handle, seconds))
        if not due:
            return
        changed, refused = change_visibility(self.sqs, self.queue_url, due)
        with self._lock:
            for handle, seconds in due:
                still = self._tracked.get(handle)
                if still is None:
                    continue
                if handle in changed:
                    still.expires = now + seconds
                    self.extensions += 1
                elif handle in refused:
                    self._lost.add(handle)
