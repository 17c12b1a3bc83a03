"""One shard's march, as reconcile's callbacks: what each drift becomes, and what the shards
share (the report, the watermarks, who finished).

``Visitor`` turns the march's missing, stale and phantom into repairs through ``Repairs`` (the
one choke point), skips what the sink wrote after the listing saw it (``newer``: an event is
ahead of the listing, and ``engine.ordering`` would refuse the repair anyway), and holds each
key's place in the shard's ``Watermark`` until its repairs settle. With ``--head`` a drifted
key is looked up once, and that state goes to every sink that drifted on it.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bucketsync.engine.ordering import Verdict, decide
from bucketsync.engine.ports import ObjectSource, Sink
from bucketsync.engine.stamp import ObservationClock
from bucketsync.engine.state import ABSENT, Held
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import CancelledError
from bucketsync.reconcile.listing import Listed, Range, Source
from bucketsync.reconcile.march import Side
from bucketsync.reconcile.repairs import Repairs, Watermark
from bucketsync.reconcile.report import Report
from bucketsync.reconcile.shards import Shard

Settled = Callable[[Sink, Update, "Outcome | BaseException"], None]


def repair_of(source: Source, listed: Listed) -> Update:
    """The repair of a listed object: its state, under the stamp of the page that listed it."""
    return Update(
        source.bucket, listed.key, listed.state(), listed.stamp, (), listed.stamp, source.origin
    )


class Cancellable:
    def __init__(self, listing: Range, state: RunState) -> None:
        self._listing = listing
        self._state = state

    @property
    def end_stamp(self) -> str:
        return self._listing.end_stamp

    def __iter__(self) -> Iterator[Listed]:
        for listed in self._listing:
            if self._state.cancel.is_set():
                raise CancelledError("cancelled")
            self._state.report.counted(listed=1)
            yield listed


class RunState:
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


class Visitor:
    def __init__(
        self,
        source: Source,
        sinks: Sequence[Sink],
        state: RunState,
        repairs: Repairs,
        mark: Watermark,
        *,
        lookup: ObjectSource | None,
        clock: ObservationClock,
    ) -> None:
        """``lookup``: with --head, where drifted keys are looked up (None: without)."""
        self._source = source
        self._sinks = list(sinks)
        self._state = state
        self._repairs = repairs
        self._mark = mark
        self._lookup = lookup
        self._clock = clock
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
        sink = self._sinks[side.index]
        update = Update(self._source.bucket, held.key, ABSENT, stamp, (), stamp, self._origin)
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
        probe = Update(self._source.bucket, key, ABSENT, stamp, (), stamp, self._origin)
        if held is None or decide(held, probe) is not Verdict.STALE:
            return False
        self._state.report.found(side.name, "newer", key)
        return True

    @property
    def _origin(self) -> str:
        return self._source.origin

    def _drift(self, side: Side, listed: Listed, kind: str) -> None:
        self._state.report.found(side.name, kind, listed.key)
        sink = self._sinks[side.index]
        if self._repairs.dry_run:
            return
        self._mark.hold(listed.key)
        if self._lookup is not None:
            self._head.append((sink, listed))
        else:
            self._repairs.write(sink, repair_of(self._source, listed))

    def flush_head(self) -> None:
        """With --head: one lookup for the key, then its state to every sink that drifted."""
        if not self._head:
            return
        drifted, self._head = self._head, []
        lookup, clock, bucket = self._lookup, self._clock, self._source.bucket
        assert lookup is not None
        done = self._state.done

        def job() -> None:
            key = drifted[0][1].key
            seen = clock.stamp()
            try:
                state = lookup.lookup(bucket, key)
            except Exception as exc:  # fails this key's repairs, not the run
                for sink, listed in drifted:
                    done(sink, repair_of(self._source, listed), exc)
                return
            update = Update(bucket, key, state, seen, (), seen, "head")
            for sink, _ in drifted:
                try:
                    result: Any = sink.apply([update])[0]
                except Exception as exc:
                    result = exc
                done(sink, update, result)

        self._repairs.call(job)
