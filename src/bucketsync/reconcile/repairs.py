"""Where every repair goes through: the dry-run choke point, batching, the pool, the budget.

``Repairs.write`` is the only way a reconcile writes to a sink and ``Repairs.delete`` the only
way it deletes (rclone's ``SkipDestructive``): a dry run records what would be done and
does nothing. Writes go out at once, batched per sink, on a bounded pool, so the march never
runs far ahead of them. Deletes wait for the end of the run (``flush_deletes``), are dropped
when the run saw any listing or read error, and stop before ``--max-delete`` is crossed.

``Watermark`` is the resumable position: the last key up to which everything was compared
and every repair settled. A pending repair, a failed one or a waiting delete holds it back,
so a checkpoint never skips a key that still needs work.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from bucketsync.engine.ports import Sink
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import RefusingToDeleteError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Open:
    pending: int
    before: str  # the last key compared before this one


class Watermark:
    """The key up to which a range is done; thread-safe. Keys are held in key order."""

    def __init__(self, start: str) -> None:
        self._compared = start
        self._open: OrderedDict[str, _Open] = OrderedDict()
        self._stuck: dict[str, str] = {}  # key → the position before it: left undone
        self._lock = threading.Lock()

    def compared(self, key: str) -> None:
        with self._lock:
            self._compared = key

    def hold(self, key: str) -> None:
        """Work on ``key`` is under way (called before ``compared(key)``)."""
        with self._lock:
            entry = self._open.get(key)
            if entry is None:
                self._open[key] = _Open(1, self._compared)
            else:
                entry.pending += 1

    def release(self, key: str, *, ok: bool) -> None:
        with self._lock:
            entry = self._open[key]
            entry.pending -= 1
            if not ok:
                self._stuck.setdefault(key, entry.before)
            if entry.pending == 0:
                del self._open[key]

    @property
    def position(self) -> str:
        with self._lock:
            first = next(iter(self._open.values()), None)
            blocked = ([first.before] if first else []) + list(self._stuck.values())
            return min(blocked) if blocked else self._compared


class Budget(Protocol):
    """How many deletes may still be made (``--max-delete``), shared by every shard."""

    def take(self, wanted: int) -> int: ...


class LocalBudget:
    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self, wanted: int) -> int:
        with self._lock:
            granted = wanted if self.limit is None else min(wanted, self.limit - self.used)
            self.used += max(granted, 0)
            return max(granted, 0)


Done = Callable[[Sink, Update, "Outcome | BaseException"], None]


@dataclass
class _Batch:
    updates: list[Update] = field(default_factory=list)


class Repairs:
    """Applies repairs to sinks on a pool of ``workers`` threads, ``batch[sink]`` at a time."""

    def __init__(
        self,
        *,
        dry_run: bool,
        workers: int,
        batch: Callable[[Sink], int],
        done: Done,
        budget: Budget,
    ) -> None:
        self.dry_run = dry_run
        self._batch = batch
        self._done = done
        self._budget = budget
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="bucketsync-repair")
        self._slots = threading.BoundedSemaphore(workers * 2)  # the march waits beyond this
        self._buffers: dict[int, tuple[Sink, _Batch]] = {}
        self._futures: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._deletes: list[tuple[Sink, Update]] = []
        self.deletes_made = 0
        self.deletes_not_made = 0

    # -- the choke point ------------------------------------------------------------------------

    def write(self, sink: Sink, update: Update) -> None:
        """Repair ``update.key`` in ``sink`` (nothing in a dry run)."""
        if self.dry_run:
            return
        with self._lock:
            _, buffer = self._buffers.setdefault(id(sink), (sink, _Batch()))
            buffer.updates.append(update)
            full = len(buffer.updates) >= self._batch(sink)
            if full:
                self._buffers.pop(id(sink))
        if full:
            self._submit(sink, buffer.updates)

    def delete(self, sink: Sink, update: Update) -> None:
        """Queue a delete for the end of the run (``flush_deletes``)."""
        self._deletes.append((sink, update))

    def call(self, job: Callable[[], None]) -> None:
        """Run ``job`` on the pool (a lookup then its writes, for --head)."""
        if self.dry_run:
            return
        self._slots.acquire()
        future = self._pool.submit(job)
        self._track(future)

    # -- the end of a run -----------------------------------------------------------------------

    def flush(self) -> None:
        """Send what is buffered and wait until every write has settled."""
        with self._lock:
            buffers, self._buffers = list(self._buffers.values()), {}
        for sink, buffer in buffers:
            self._submit(sink, buffer.updates)
        while True:
            with self._lock:
                pending = list(self._futures)
            if not pending:
                return
            for future in pending:
                future.exception()

    def flush_deletes(self, refused: str | None) -> None:
        """Make the queued deletes, unless the run must not (``refused``: why). A delete not
        made is reported to ``done`` as a ``RefusingToDeleteError`` saying why."""
        deletes, self._deletes = self._deletes, []
        if self.dry_run:
            return
        granted = 0 if refused else self._budget.take(len(deletes))
        for sink, update in deletes[:granted]:
            self.write(sink, update)
        why = refused or "--max-delete reached"
        for sink, update in deletes[granted:]:
            self._done(sink, update, RefusingToDeleteError(why))
        if refused and deletes:
            log.warning("deleting nothing: %s", refused)
        self.deletes_made += granted
        self.deletes_not_made += len(deletes) - granted
        self.flush()

    @property
    def queued_deletes(self) -> int:
        return len(self._deletes)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- plumbing -------------------------------------------------------------------------------

    def _submit(self, sink: Sink, updates: Sequence[Update]) -> None:
        self._slots.acquire()
        future = self._pool.submit(self._apply, sink, list(updates))
        self._track(future)

    def _track(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._finished)

    def _finished(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)
        self._slots.release()

    def _apply(self, sink: Sink, updates: list[Update]) -> None:
        try:
            results = sink.apply(updates)
        except Exception as exc:  # a sink that fails whole fails every update it was given
            log.exception("sink %s failed", sink.name)
            results = [exc] * len(updates)
        if len(results) != len(updates):
            results = [RuntimeError(f"sink {sink.name} returned {len(results)} results")] * len(
                updates
            )
        for update, result in zip(updates, results, strict=True):
            self._done(sink, update, result)
