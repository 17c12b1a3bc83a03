"""Held messages sent again, fresh, before their receive count can reach the DLQ.

A message the worker holds for a fault of ours costs no receive while the worker lives. When
the worker dies (a crash loop, a deploy, SIGKILL), the next one receives it again: one more
receive per death, and enough deaths during one outage would dead-letter a message that never
failed for a reason of its own. So a held message whose receives come within one of the
queue's ``maxReceiveCount`` is sent again as a new message (receive count 0), hidden for the
pause's longest wait, and its original deleted (not on its first receive, when no worker died
holding it yet). Only a fault of ours does this: a poison
message is never renewed, and still reaches the DLQ after its receives.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bucketsync.aws.queues import move, receive_limit
from bucketsync.errors import BucketSyncError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

UNKNOWN = -1


class Renewal:
    def __init__(self, sqs: SQSClient, queue_url: str, *, delay: int = 60) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.delay = delay  # seconds the copy stays hidden: the pause's longest retry wait
        self._limit = UNKNOWN
        self._lock = threading.Lock()

    def limit(self) -> int | None:
        """The queue's maxReceiveCount (asked once); None without a DLQ or when unreadable."""
        with self._lock:
            if self._limit == UNKNOWN:
                try:
                    found = receive_limit(self.sqs, self.queue_url)
                except BucketSyncError as exc:
                    log.warning("the queue's redrive policy is unknown: %s", exc)
                    return None  # asked again at the next hold
                self._limit = 0 if found is None else found
            return self._limit or None

    def due(self, receives: int) -> bool:
        """One more death and a receive would move it to the DLQ; never on a first receive
        (no worker died holding it yet: it is held, as any message failed for us)."""
        limit = self.limit()
        return limit is not None and receives >= max(2, limit - 1)

    def renew(self, messages: Sequence[dict[str, Any]]) -> set[str]:
        """Send each (received) message again, fresh; the receipt handles of those renewed
        (the rest stay held)."""
        if not messages:
            return set()
        try:
            moved = move(
                self.sqs,
                messages,
                source_url=self.queue_url,
                to_url=self.queue_url,
                delay=self.delay,
            )
        except BucketSyncError as exc:
            log.warning("%d held message(s) not renewed, kept held: %s", len(messages), exc)
            return set()
        if moved.gone:
            log.warning(
                "%d held message(s) near the DLQ's %s receives sent again, fresh, in %d s",
                len(moved.gone),
                self._limit,
                self.delay,
            )
        return {m["ReceiptHandle"] for m in moved.gone}
