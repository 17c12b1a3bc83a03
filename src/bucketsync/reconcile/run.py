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

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from bucketsync.engine.ports import Listable, ObjectSource, Sink
from bucketsync.engine.stamp import ObservationClock
from bucketsync.errors import BucketSyncError
from bucketsync.reconcile.listing import Source
from bucketsync.reconcile.march import Side, march
from bucketsync.reconcile.repairs import Budget, LocalBudget, Repairs, Watermark
from bucketsync.reconcile.report import Report
from bucketsync.reconcile.shards import Shard
from bucketsync.reconcile.visit import Cancellable, RunState, Settled, Visitor

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 0.25


class ReconciledSink(Sink, Listable, Protocol):
    """A sink reconcile can both list and repair."""


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
        state = RunState(report, marks, ordered, cancel or threading.Event(), self._settled)
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

    def _shard(self, shard: Shard, state: RunState, repairs: Repairs) -> bool:
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
        visitor = Visitor(
            self.source,
            self.sinks,
            state,
            repairs,
            mark,
            lookup=self._lookup if self.options.head else None,
            clock=self._clock,
        )
        listing = Cancellable(self.source.range(start, shard.upto), state)
        complete = march(listing, sides, visitor)
        visitor.flush_head()
        state.marched(shard.id, complete and all(side.active for side in sides))
        return complete


def _batch_of(sink: Sink, default: int) -> int:
    # A mirror download or a records load is heavy and parallel inside the sink already:
    # one at a time per call keeps slow ones from holding back the rest of a batch.
    return 1 if sink.name in ("mirror", "records") else default


class _Saver:
    """Saves the shards' positions every ``seconds`` (and reports progress), and at the end."""

    def __init__(
        self,
        checkpoints: Checkpoints | None,
        state: RunState,
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
