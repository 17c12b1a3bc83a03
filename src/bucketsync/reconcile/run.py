"""One reconcile run: shards marched in parallel, repairs through one choke point, then deletes.

    plan shards (key ranges) ─┬─ march shard 1: bucket range against each sink's range → repairs
                              ├─ march shard 2 ...                  (writes: batched, pooled)
                              └─ ...
    every write settled ── deletes (none if any listing or read error; ``--max-delete``)
    checkpoints: each shard's watermark, saved as the run goes and at its end

A repair carries the stamp of the page that listed the key and ``origin`` "listing" or
"inventory" (``engine.ordering``: it never replaces what was written after that page was
requested, so events landing during the run win). With ``head``, a drifted key is looked up
first (HeadObject: content type, metadata) and written under that lookup's stamp.
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from bucketsync.engine.ordering import Verdict, decide
from bucketsync.engine.ports import Listable, ObjectSource, Sink
from bucketsync.engine.stamp import ObservationClock
from bucketsync.engine.state import ABSENT, Held, Outcome, Update
from bucketsync.errors import BucketSyncError
from bucketsync.reconcile.listing import Listed, Range, Source
from bucketsync.reconcile.march import Side, march
from bucketsync.reconcile.repairs import Budget, LocalBudget, Repairs, Watermark
from bucketsync.reconcile.report import Report

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 0.25


class ReconciledSink(Sink, Listable, Protocol):
    """A sink reconcile can both list and repair."""


@dataclass(frozen=True, slots=True)
class Shard:
    """The keys ``after < key <= upto`` (``upto`` None: to the end)."""

    after: str = ""
    upto: str | None = None

    @property
    def id(self) -> str:
        """A name that gives the shard back (``from_id``): checkpoints are kept under it."""
        return json.dumps([self.after, self.upto], ensure_ascii=False)

    @classmethod
    def from_id(cls, shard_id: str) -> Shard:
        after, upto = json.loads(shard_id)
        return cls(str(after), None if upto is None else str(upto))


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    max_delete: int | None = None
    head: bool = False
    workers: int = 16  # repair threads
    parallel: int = 4  # shards marched at once
    batch: int = 25  # repairs per sink call (the mirror and records take theirs one by one)
    checkpoint_seconds: float = 5.0


class Checkpoints(Protocol):
    """Where a run's shard positions are kept (a file, a DynamoDB item)."""

    def load(self) -> dict[str, tuple[str, bool]]: ...  # shard id → (position, done)

    def save(self, positions: dict[str, tuple[str, bool]]) -> None: ...


Progress = Callable[[Report], None]
Settled = Callable[[Sink, Update, "Outcome | BaseException"], None]


class Cancelled(BucketSyncError):
    """The run was asked to stop."""


class Reconciler:
    def __init__(
        self,
        source: Source,
        sinks: Sequence[ReconciledSink],
        *,
        options: Options | None = None,
        lookup: ObjectSource | None = None,
        checkpoints: Checkpoints | None = None,
        budget: Budget | None = None,
        progress: Progress | None = None,
        settled: Settled | None = None,
        clock: ObservationClock | None = None,
    ) -> None:
        """``progress`` is called with the report as the run goes; ``settled`` with every
        repair's result, from the repair threads."""
        if not sinks:
            raise BucketSyncError("reconcile needs at least one sink")
        self.source = source
        self.sinks = list(sinks)
        self.options = options or Options()
        if self.options.head and lookup is None:
            raise BucketSyncError("head=True needs an object source to look keys up with")
        self._lookup = lookup
        self._checkpoints = checkpoints
        self._budget = budget or LocalBudget(self.options.max_delete)
        self._progress = progress
        self._settled = settled
        self._clock = clock or ObservationClock()

    def run(
        self,
        shards: Sequence[Shard] = (Shard(),),
        *,
        resume: bool = False,
        cancel: threading.Event | None = None,
    ) -> Report:
        options = self.options
        report = Report(self.source.bucket, self.source.prefix, self.source.origin, options.dry_run)
        for sink in self.sinks:
            report.sink(sink.name)
        saved = self._checkpoints.load() if (resume and self._checkpoints) else {}
        if saved:  # the shards of the run resumed, whatever this run would have planned
            shards = [Shard.from_id(shard_id) for shard_id in saved]
        ordered = sorted(shards, key=lambda s: s.after)
        marks = {
            shard.id: Watermark(max(shard.after, saved.get(shard.id, ("", False))[0]))
            for shard in ordered
        }
        if saved:
            report.resumed_from = min(m.position for m in marks.values())
        todo = [s for s in ordered if not saved.get(s.id, ("", False))[1]]
        state = _RunState(report, marks, ordered, cancel or threading.Event(), self._settled)
        for shard in ordered:
            if shard not in todo:  # finished by the run resumed
                state.marched(shard.id, True)
        repairs = Repairs(
            dry_run=options.dry_run,
            workers=options.workers,
            batch=lambda sink: _batch_of(sink, options.batch),
            done=state.done,
            budget=self._budget,
        )
        began = time.monotonic()
        saver = _Saver(self._checkpoints, state, options.checkpoint_seconds, self._progress)
        saver.start()
        finished: list[bool] = []
        try:
            with ThreadPoolExecutor(max(1, options.parallel), "bucketsync-march") as pool:
                finished = list(pool.map(lambda s: self._shard(s, state, repairs), todo))
            repairs.flush()
            refused = state.refused or (None if all(finished) else "a listing was incomplete")
            if state.cancel.is_set():
                refused, report.interrupted = "the run was interrupted", True
            if refused and repairs.queued_deletes:
                report.deletes_refused = refused
            repairs.flush_deletes(refused)
        finally:
            repairs.close()
            report.seconds = time.monotonic() - began
            saver.stop(finished=[s.id for s in ordered if state.complete(s)])
        report.position = state.resume_position()
        return report

    # -- one shard ----------------------------------------------------------------------------

    def _shard(self, shard: Shard, state: _RunState, repairs: Repairs) -> bool:
        mark = state.marks[shard.id]
        start = mark.position
        bucket, prefix = self.source.bucket, self.source.prefix
        sides = [
            Side(
                sink.name,
                sink.listing(bucket, prefix, start, shard.upto),
                lambda key, sink=sink: sink.in_scope(bucket, key),  # type: ignore[misc]
                index=n,
            )
            for n, sink in enumerate(self.sinks)
        ]
        visitor = _Visitor(self, state, repairs, mark)
        listing = _Cancellable(self.source.range(start, shard.upto), state)
        complete = march(listing, sides, visitor)
        visitor.flush_head()
        state.marched(shard.id, complete and all(side.active for side in sides))
        return complete

    def _update(self, listed: Listed) -> Update:
        state = listed.state()
        origin = self.source.origin
        return Update(self.source.bucket, listed.key, state, listed.stamp, (), listed.stamp, origin)


def _batch_of(sink: Sink, default: int) -> int:
    # A mirror download or a records load is heavy and parallel inside the sink already:
    # one at a time per call keeps slow ones from holding back the rest of a batch.
    return 1 if sink.name in ("mirror", "records") else default


class _Cancellable:
    def __init__(self, listing: Range, state: _RunState) -> None:
        self._listing = listing
        self._state = state

    @property
    def end_stamp(self) -> str:
        return self._listing.end_stamp

    def __iter__(self) -> Iterator[Listed]:
        for listed in self._listing:
            if self._state.cancel.is_set():
                raise Cancelled("cancelled")
            self._state.report.counted(listed=1)
            yield listed


class _RunState:
    """What the shards share: the report, the watermarks, which shards finished."""

    def __init__(
        self,
        report: Report,
        marks: dict[str, Watermark],
        shards: Sequence[Shard],
        cancel: threading.Event,
        settled: Settled | None,
    ) -> None:
        self.report = report
        self._settled = settled
        self.marks = marks
        self.shards = list(shards)
        self._bounds = [s.after for s in self.shards]
        self.cancel = cancel
        self.refused: str | None = None
        self._marched: dict[str, bool] = {}
        self._lock = threading.Lock()

    def mark_of(self, key: str) -> Watermark:
        shard = self.shards[max(0, bisect.bisect_left(self._bounds, key) - 1)]
        return self.marks[shard.id]

    def done(self, sink: Sink, update: Update, result: Outcome | BaseException) -> None:
        ok = self.report.settled(sink.name, update.key, result)
        if self._settled is not None:
            self._settled(sink, update, result)
        self.mark_of(update.key).release(update.key, ok=ok)

    def failed(self, message: str) -> None:
        self.report.error(message)
        with self._lock:
            self.refused = self.refused or message

    def marched(self, shard: str, complete: bool) -> None:
        with self._lock:
            self._marched[shard] = complete

    def complete(self, shard: Shard) -> bool:
        with self._lock:
            return self._marched.get(shard.id, False) and not self.report.failed

    def resume_position(self) -> str | None:
        if all(self.complete(s) for s in self.shards):
            return None
        return min(mark.position for mark in self.marks.values())


class _Visitor:
    def __init__(
        self, reconciler: Reconciler, state: _RunState, repairs: Repairs, mark: Watermark
    ) -> None:
        self._r = reconciler
        self._state = state
        self._repairs = repairs
        self._mark = mark
        self._head: list[tuple[Sink, Listed]] = []  # this key's drifted sinks, with --head

    def missing(self, side: Side, listed: Listed, held: Held | None) -> None:
        if not self._newer(side, held, listed.stamp, listed.key):
            self._drift(side, listed, "missing")

    def stale(self, side: Side, listed: Listed, held: Held) -> None:
        if not self._newer(side, held, listed.stamp, listed.key):
            self._drift(side, listed, "stale")

    def equal(self, side: Side, listed: Listed, held: Held) -> None:
        self._state.report.found(side.name, "equal", listed.key)

    def phantom(self, side: Side, held: Held, stamp: str) -> None:
        if self._newer(side, held, stamp, held.key):
            return
        self._state.report.found(side.name, "phantom", held.key)
        sink = self._r.sinks[side.index]
        update = Update(self._r.source.bucket, held.key, ABSENT, stamp, (), stamp, self._origin)
        if not self._repairs.dry_run:
            self._mark.hold(held.key)
        self._repairs.delete(sink, update)

    def compared(self, key: str) -> None:
        self.flush_head()
        self._state.report.counted(compared=1)
        self._mark.compared(key)

    def failed(self, side: Side | None, error: str) -> None:
        self._state.failed(error)

    def _newer(self, side: Side, held: Held | None, stamp: str, key: str) -> bool:
        """The sink wrote this key after the listing saw it: not drift, and no repair could
        replace it (``engine.ordering``); an event is ahead of the listing."""
        probe = Update(self._r.source.bucket, key, ABSENT, stamp, (), stamp, self._origin)
        if held is None or decide(held, probe) is not Verdict.STALE:
            return False
        self._state.report.found(side.name, "newer", key)
        return True

    @property
    def _origin(self) -> str:
        return self._r.source.origin

    def _drift(self, side: Side, listed: Listed, kind: str) -> None:
        self._state.report.found(side.name, kind, listed.key)
        sink = self._r.sinks[side.index]
        if self._repairs.dry_run:
            return
        self._mark.hold(listed.key)
        if self._r.options.head:
            self._head.append((sink, listed))
        else:
            self._repairs.write(sink, self._r._update(listed))

    def flush_head(self) -> None:
        """With --head: one lookup for the key, then its state to every sink that drifted."""
        if not self._head:
            return
        drifted, self._head = self._head, []
        lookup, clock, bucket = self._r._lookup, self._r._clock, self._r.source.bucket
        assert lookup is not None
        done = self._state.done

        def job() -> None:
            key = drifted[0][1].key
            seen = clock.stamp()
            try:
                state = lookup.lookup(bucket, key)
            except Exception as exc:  # fails this key's repairs, not the run
                for sink, listed in drifted:
                    done(sink, self._r._update(listed), exc)
                return
            update = Update(bucket, key, state, seen, (), seen, "head")
            for sink, _ in drifted:
                try:
                    result: Any = sink.apply([update])[0]
                except Exception as exc:
                    result = exc
                done(sink, update, result)

        self._repairs.call(job)


class _Saver:
    """Saves the shards' positions every ``seconds`` (and reports progress), and at the end."""

    def __init__(
        self,
        checkpoints: Checkpoints | None,
        state: _RunState,
        seconds: float,
        progress: Progress | None,
    ) -> None:
        self._checkpoints = checkpoints
        self._state = state
        self._seconds = seconds
        self._progress = progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reconcile-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, finished: Sequence[str]) -> None:
        self._stop.set()
        self._thread.join()
        self._save(set(finished))
        if self._progress is not None:
            self._progress(self._state.report)

    def _loop(self) -> None:
        tick = min(self._seconds, PROGRESS_SECONDS) if self._progress else self._seconds
        saved = time.monotonic()
        while not self._stop.wait(tick):
            if self._progress is not None:
                self._progress(self._state.report)
            if time.monotonic() - saved >= self._seconds:
                self._save(set())
                saved = time.monotonic()

    def _save(self, finished: set[str]) -> None:
        if self._checkpoints is None or self._state.report.dry_run:
            return
        positions = {
            shard_id: (mark.position, shard_id in finished)
            for shard_id, mark in self._state.marks.items()
        }
        try:
            self._checkpoints.save(positions)
        except Exception as exc:  # a checkpoint not saved costs a longer resume, not the run
            log.warning("could not save the checkpoint: %s", exc)
