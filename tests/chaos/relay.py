"""The relay: at-least-once, duplicated, reordered delivery, on purpose.

The bucket notifies queue A. The relay receives from A and, for each message and for each
consumer group's queue (a fan-out, as SNS → SQS does), sends the body once, or twice with
probability ``duplicate``, each copy after a random delay: most within ``jitter`` seconds
(batches reordered), the second copy of a duplicate ``late`` of the time within ``late_max``
seconds (a stale re-delivery that arrives after newer events of the same key). Due copies go
out shuffled, in batches of random size (SendMessageBatch). A message is deleted from A only
once every copy of it was sent, so the relay loses nothing: killed, its messages come back.

A target may take only some messages (``filters``: a prefix, as an S3 notification's filter
rule would): a body that names an object outside it is not sent there; any other body (a
test event, poison) is.

Counts: messages received from A, copies sent per target, duplicates, and how many times each
watched body (the poison messages) was sent to each target, which is what its DLQ must hold.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)


@dataclass
class RelayStats:
    received: int = 0  # messages taken from A
    sent: Counter[str] = field(default_factory=Counter)  # copies per target queue
    duplicates: int = 0  # second copies
    late: int = 0  # second copies sent late (stale deliveries)
    watched: Counter[tuple[str, str]] = field(default_factory=Counter)  # (target, body) -> n

    @property
    def delivered(self) -> int:
        return sum(self.sent.values())


@dataclass(order=True)
class _Copy:
    due: float
    order: int
    target: str = field(compare=False)
    body: str = field(compare=False)
    source: str = field(compare=False)  # A's receipt handle


class Relay:
    def __init__(
        self,
        sqs: SQSClient,
        source_url: str,
        targets: Sequence[str],
        seed: int | str,
        filters: Mapping[str, str] | None = None,
        *,
        duplicate: float = 0.2,
        jitter: float = 0.3,
        late: float = 0.3,
        late_max: float = 4.0,
        watched: frozenset[str] = frozenset(),
    ) -> None:
        self.sqs = sqs
        self.source_url = source_url
        self.targets = list(targets)
        self.filters = dict(filters or {})  # target -> key prefix it takes
        self.duplicate = duplicate
        self.jitter = jitter
        self.late = late
        self.late_max = late_max
        self.watched = set(watched)
        self.stats = RelayStats()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._heap: list[_Copy] = []
        self._pending: dict[str, int] = {}  # A's receipt handle -> copies not yet sent
        self._done: list[str] = []  # A's receipt handles sent nowhere (filtered out)
        self._order = itertools.count()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._receive, name="chaos-relay-receive", daemon=True),
            threading.Thread(target=self._send, name="chaos-relay-send", daemon=True),
        ]
        self.errors: list[str] = []

    def watch(self, bodies: Sequence[str]) -> None:
        with self._lock:
            self.watched.update(bodies)

    def __enter__(self) -> Relay:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    @property
    def idle(self) -> bool:
        """Nothing held: every message taken from A was sent on and deleted."""
        with self._lock:
            return not self._heap and not self._pending

    # --- receiving from A

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                answer = self.sqs.receive_message(
                    QueueUrl=self.source_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                )
            except Exception as exc:  # the emulator is never faulty, but keep relaying
                self.errors.append(f"receive: {exc}")
                time.sleep(0.5)
                continue
            messages = answer.get("Messages", [])
            now = time.monotonic()
            with self._wake:
                for message in messages:
                    self._schedule(message["Body"], message["ReceiptHandle"], now)
                self.stats.received += len(messages)
                done, self._done = self._done, []
                self._wake.notify_all()
            self._delete(done)

    def _schedule(self, body: str, handle: str, now: float) -> None:
        """Under the lock: one or two copies per target, each with its delay."""
        rng = self._rng
        copies = 0
        for target in self.targets:
            prefix = self.filters.get(target)
            if prefix is not None and not _wanted(body, prefix):
                continue
            delays = [rng.uniform(0.0, self.jitter)]
            if rng.random() < self.duplicate:
                self.stats.duplicates += 1
                if rng.random() < self.late:
                    self.stats.late += 1
                    delays.append(rng.uniform(self.jitter, self.late_max))
                else:
                    delays.append(rng.uniform(0.0, self.jitter))
            for delay in delays:
                heapq.heappush(
                    self._heap, _Copy(now + delay, next(self._order), target, body, handle)
                )
                copies += 1
        if copies:
            self._pending[handle] = self._pending.get(handle, 0) + copies
        else:
            self._done.append(handle)

    # --- sending on

    def _send(self) -> None:
        while True:
            with self._wake:
                while not self._stop.is_set():
                    now = time.monotonic()
                    if self._heap and self._heap[0].due <= now:
                        break
                    wait = (self._heap[0].due - now) if self._heap else 0.5
                    self._wake.wait(timeout=min(wait, 0.5))
                if self._stop.is_set():
                    return
                due: list[_Copy] = []
                now = time.monotonic()
                while self._heap and self._heap[0].due <= now:
                    due.append(heapq.heappop(self._heap))
                self._rng.shuffle(due)
                sizes = [self._rng.randint(1, 10) for _ in due]
            self._send_batches(due, sizes)

    def _send_batches(self, due: list[_Copy], sizes: list[int]) -> None:
        by_target: dict[str, list[_Copy]] = {}
        for copy in due:
            by_target.setdefault(copy.target, []).append(copy)
        finished: list[str] = []
        size_iter = iter(sizes)
        for target, copies in by_target.items():
            start = 0
            while start < len(copies):
                chunk = copies[start : start + next(size_iter, 10)]
                start += len(chunk)
                self._send_chunk(target, chunk)
                with self._lock:
                    for copy in chunk:
                        self.stats.sent[target] += 1
                        if copy.body in self.watched:
                            self.stats.watched[(target, copy.body)] += 1
                        self._pending[copy.source] -= 1
                        if self._pending[copy.source] == 0:
                            del self._pending[copy.source]
                            finished.append(copy.source)
        self._delete(finished)

    def _send_chunk(self, target: str, chunk: list[_Copy]) -> None:
        entries = {str(i): copy.body for i, copy in enumerate(chunk)}
        while entries and not self._stop.is_set():
            try:
                answer = self.sqs.send_message_batch(
                    QueueUrl=target,
                    Entries=[{"Id": i, "MessageBody": body} for i, body in entries.items()],
                )
            except Exception as exc:
                self.errors.append(f"send: {exc}")
                time.sleep(0.2)
                continue
            for sent in answer.get("Successful", []):
                entries.pop(sent["Id"], None)
            if entries:
                time.sleep(0.1)

    def _delete(self, handles: list[str]) -> None:
        for start in range(0, len(handles), 10):
            chunk = handles[start : start + 10]
            try:
                self.sqs.delete_message_batch(
                    QueueUrl=self.source_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
                )
            except Exception as exc:  # it comes back and is relayed again: a duplicate
                self.errors.append(f"delete: {exc}")


def _wanted(body: str, prefix: str) -> bool:
    """Whether a target filtered on ``prefix`` takes this body (one not naming an object: yes)."""
    try:
        key = json.loads(body)["Records"][0]["s3"]["object"]["key"]
    except (ValueError, LookupError, TypeError):
        return True
    return not isinstance(key, str) or unquote_plus(key).startswith(prefix)
