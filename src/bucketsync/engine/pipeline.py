"""The engine: messages → changes → one stamped update per key → every sink.

Ordering and idempotency live in the stamps (``engine.stamp``) and the sinks' conditional
writes; the engine's job is to pick, per key, which state to write and with which stamp,
doing as few S3 lookups as correctness allows:

* Events with sequencers: the newest change per key in the batch wins (older ones are already
  superseded). A create is looked up with HeadObject (for content type, metadata...), unless
  ``lean``; HeadObject may answer with a state newer than the event, which is fine: it is
  written under the event's older stamp, so the newer event still overwrites it. A delete (or
  delete marker) is a tombstone without a lookup. A permanent delete of one *version* is
  looked up: an older version may have become current.
* Events without sequencers (the emulator): every touched key is looked up once per batch and
  written under an observation stamp taken before the lookup.

Every lookup's start is recorded as the update's ``seen``. When a sink answers ``CONFIRM`` (an
event without a lookup met a state that was observed: ``engine.ordering``), the key is looked
up once and the observed state is applied again to that sink, under the same stamp.
A key that no sink holds (no records rule routes it, it is outside the mirror's prefix, and
there is no catalog) is not looked up at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal

from bucketsync.engine.ports import Listable, ObjectSource, Sink
from bucketsync.engine.stamp import ObservationClock, sequencer_stamp
from bucketsync.engine.state import ABSENT, ObjectState
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import BucketSyncError, MalformedEventError
from bucketsync.events import Change, ChangeKind, parse_message

log = logging.getLogger(__name__)

Ordering = Literal["auto", "sequencer", "observed"]
GroupKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Message:
    """One unit of delivery (an SQS message, an HTTP request): it succeeds or fails whole."""

    id: str
    body: str


@dataclass(slots=True)
class BatchReport:
    """What happened to a batch: per-message failures and per-sink outcome counts."""

    failures: dict[str, BaseException] = field(default_factory=dict)
    changes: int = 0
    keys: int = 0
    lookups: int = 0
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, sink: str, outcome: str) -> None:
        per_sink = self.outcomes.setdefault(sink, {})
        per_sink[outcome] = per_sink.get(outcome, 0) + 1


@dataclass(slots=True)
class _Plan:
    """One key's changes in this batch and how its state will be found."""

    changes: list[Change]
    messages: set[str]
    stamp: str = ""
    seen: str | None = None
    state: ObjectState | None = None
    error: BaseException | None = None


class Engine:
    def __init__(
        self,
        source: ObjectSource,
        sinks: Sequence[Sink],
        *,
        lean: bool = False,
        ordering: Ordering = "auto",
        executor: Executor | None = None,
        clock: ObservationClock | None = None,
    ) -> None:
        if not sinks:
            raise ValueError("an engine needs at least one sink")
        self.source = source
        self.sinks = list(sinks)
        self.lean = lean
        self.ordering = ordering
        self._executor = executor or ThreadPoolExecutor(16, thread_name_prefix="bucketsync-s3")
        self._clock = clock or ObservationClock()

    # -- entry points -------------------------------------------------------------------------

    def process_messages(self, messages: Iterable[Message]) -> BatchReport:
        """Parse and apply a batch; a message fails only if its own body or keys failed."""
        report = BatchReport()
        tagged: list[tuple[str, Change]] = []
        for message in messages:
            try:
                changes = parse_message(message.body)
            except MalformedEventError as exc:
                log.warning("malformed message %s: %s", message.id, exc)
                report.failures[message.id] = exc
                continue
            tagged.extend((message.id, change) for change in changes)
        self._apply(tagged, report)
        return report

    def process_changes(self, changes: Iterable[Change], message_id: str = "event") -> BatchReport:
        """Apply already-parsed changes as one unit of delivery."""
        report = BatchReport()
        self._apply([(message_id, change) for change in changes], report)
        return report

    # -- the pipeline ---------------------------------------------------------------------------

    def _apply(self, tagged: list[tuple[str, Change]], report: BatchReport) -> None:
        plans: dict[GroupKey, _Plan] = {}
        for message_id, change in tagged:
            plan = plans.setdefault((change.bucket, change.key), _Plan([], set()))
            plan.changes.append(change)
            plan.messages.add(message_id)
        report.changes = len(tagged)
        report.keys = len(plans)
        if not plans:
            return

        # A key no sink holds (not routed, outside the mirror's prefix) is neither looked up
        # nor handed to a sink: each counts it skipped, as it would have answered.
        scopes = self._scopes()
        unheld = [gk for gk in plans if scopes is not None and not any(f(*gk) for f in scopes)]
        for gk in unheld:
            del plans[gk]
            for sink in self.sinks:
                report.count(sink.name, Outcome.SKIPPED.value)
        lookups = [(gk, plan) for gk, plan in plans.items() if self._plan(plan)]
        report.lookups = len(lookups)
        self._look_up(lookups)
        for _, plan in lookups:
            plan.stamp = plan.stamp or plan.seen or ""

        ready = [(gk, plan) for gk, plan in plans.items() if plan.error is None]
        updates = [
            Update(gk[0], gk[1], plan.state or ABSENT, plan.stamp, tuple(plan.changes), plan.seen)
            for gk, plan in ready
        ]
        confirmed: dict[GroupKey, _Plan] = {}  # one lookup per key, whichever sinks ask
        for sink in self.sinks:
            results = self._sink_apply(sink, updates)
            if Outcome.CONFIRM in results:
                results = self._confirm(sink, updates, results, report, confirmed)
            for (_, plan), result in zip(ready, results, strict=True):
                if isinstance(result, BaseException):
                    plan.error = plan.error or result
                    report.count(sink.name, "failed")
                else:
                    report.count(sink.name, result.value)

        for (bucket, key), plan in plans.items():
            if plan.error is None:
                continue
            log.warning("s3://%s/%s failed: %s", bucket, key, plan.error)
            for message_id in plan.messages:
                report.failures.setdefault(message_id, plan.error)

    def _look_up(self, lookups: Sequence[tuple[GroupKey, _Plan]]) -> None:
        """Each plan's current state, looked up in parallel; ``seen`` is taken just before."""
        futures = []
        for (bucket, key), plan in lookups:
            # Taken before the lookup starts: see the timeline in engine.stamp.
            plan.seen = self._clock.stamp()
            futures.append((plan, self._executor.submit(self.source.lookup, bucket, key)))
        for plan, future in futures:
            try:
                plan.state = future.result()
            except BucketSyncError as exc:
                plan.error = exc
            except Exception as exc:  # a bug in a source must fail its keys, not the batch
                log.exception("lookup failed")
                plan.error = exc

    def _confirm(
        self,
        sink: Sink,
        updates: list[Update],
        results: list[Outcome | BaseException],
        report: BatchReport,
        confirmed: dict[GroupKey, _Plan],
    ) -> list[Outcome | BaseException]:
        """Look up the keys ``sink`` asked to confirm and apply what is observed, same stamp."""
        asked = [i for i, result in enumerate(results) if result is Outcome.CONFIRM]
        new = {
            (updates[i].bucket, updates[i].key): _Plan([], set())
            for i in asked
            if (updates[i].bucket, updates[i].key) not in confirmed
        }
        self._look_up(list(new.items()))
        report.lookups += len(new)
        confirmed.update(new)
        merged = list(results)
        again: list[tuple[int, Update]] = []
        for i in asked:
            update = updates[i]
            plan = confirmed[(update.bucket, update.key)]
            if plan.error is not None:
                merged[i] = plan.error
            else:
                again.append((i, replace(update, state=plan.state or ABSENT, seen=plan.seen)))
        retried = self._sink_apply(sink, [update for _, update in again])
        for (i, _), result in zip(again, retried, strict=True):
            # A confirmed update carries an observation: asking again would be a sink's bug.
            merged[i] = (
                RuntimeError(f"sink {sink.name} asked to confirm an observed state")
                if result is Outcome.CONFIRM
                else result
            )
        return merged

    def _scopes(self) -> list[Callable[[str, str], bool]] | None:
        """Each sink's ``in_scope``; None when a sink cannot say (not Listable): it may hold
        any key. Read per batch: a runtime may wrap the sinks after the engine is built."""
        listable = [s for s in self.sinks if isinstance(s, Listable)]
        return [s.in_scope for s in listable] if len(listable) == len(self.sinks) else None

    def _plan(self, plan: _Plan) -> bool:
        """Choose the stamp and, when no lookup is needed, the state. True: look it up."""
        changes = plan.changes
        use_sequencer = self.ordering != "observed" and all(c.sequencer for c in changes)
        if not use_sequencer:
            if self.ordering == "sequencer":
                plan.error = MalformedEventError(
                    "ordering=sequencer but an event carries no sequencer"
                )
                return False
            return True
        changes.sort(key=lambda c: sequencer_stamp(c.sequencer or ""))
        newest = changes[-1]
        plan.stamp = sequencer_stamp(newest.sequencer or "")
        if newest.kind is ChangeKind.REMOVED:
            if newest.removes_specific_version:
                return True
            plan.state = ABSENT
            return False
        if self.lean:
            plan.state = ObjectState(
                present=True,
                size=newest.size,
                etag=newest.etag,
                version_id=newest.version_id,
                is_multipart=None if newest.etag is None else "-" in newest.etag,
            )
            return False
        return True

    @staticmethod
    def _sink_apply(sink: Sink, updates: list[Update]) -> list[Outcome | BaseException]:
        if not updates:
            return []
        try:
            results = sink.apply(updates)
        except Exception as exc:  # a sink that fails whole fails every key it was given
            log.exception("sink %s failed", sink.name)
            return [exc] * len(updates)
        if len(results) != len(updates):
            error = RuntimeError(f"sink {sink.name} returned {len(results)} results")
            return [error] * len(updates)
        return results

    def close(self) -> None:
        """Stop the lookup pool, and whatever the sinks hold (their own pools)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        for sink in self.sinks:
            sink.close()
