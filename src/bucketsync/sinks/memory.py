"""An in-memory sink: the executable specification every sink must match.

It keeps exactly what the catalog keeps for the current view: per key, the state written
under the stamp the ordering rule (``engine.ordering.decide``) let through, tombstones
included, and when it was written. ``tests/sinks`` checks every other sink against it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from bucketsync.engine.ordering import Verdict, decide
from bucketsync.engine.stamp import ObservationClock
from bucketsync.engine.state import Held, ObjectState
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import SinkWriteError

PAGE = 100  # keys the listing copies per lock, so a long listing never holds the lock long


@dataclass(frozen=True, slots=True)
class Stored:
    """One key's entry: the state, its stamp, when it was written, and where it came from."""

    stamp: str
    state: ObjectState
    wrote: str
    origin: str


class MemorySink:
    name = "memory"

    def __init__(
        self,
        *,
        clock: Callable[[], str] | None = None,
        refuse: Callable[[Update], str | None] | None = None,
    ) -> None:
        """``clock`` gives the ``wrote`` stamps (an ``ObservationClock`` by default).
        ``refuse`` names updates that fail (a reason, or None): a test's bad key."""
        self.items: dict[tuple[str, str], Stored] = {}
        self._lock = threading.Lock()
        self._clock = clock or ObservationClock().stamp
        self._refuse = refuse
        self.closed = 0

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]:
        results: list[Outcome | BaseException] = []
        with self._lock:  # stands for DynamoDB's per-item atomic conditional write
            for update in updates:
                reason = self._refuse(update) if self._refuse else None
                if reason:
                    results.append(SinkWriteError(reason))
                    continue
                key = (update.bucket, update.key)
                verdict = decide(self._held(key), update)
                if verdict is Verdict.APPLY:
                    self.items[key] = Stored(
                        update.stamp, update.state, self._clock(), update.origin
                    )
                    results.append(Outcome.APPLIED)
                else:
                    results.append(Outcome(verdict.value))
        return results

    def close(self) -> None:
        self.closed += 1

    def in_scope(self, bucket: str, key: str) -> bool:
        return True

    def listing(
        self, bucket: str, prefix: str = "", start_after: str = "", upto: str | None = None
    ) -> Iterator[Held]:
        with self._lock:
            keys = sorted(
                key
                for b, key in self.items
                if b == bucket
                and key.startswith(prefix)
                and key > start_after
                and (upto is None or key <= upto)
            )
        for start in range(0, len(keys), PAGE):
            with self._lock:
                page = [(key, self.items.get((bucket, key))) for key in keys[start : start + PAGE]]
            for key, stored in page:
                if stored is not None:
                    yield _held(key, stored)

    def held(self, bucket: str, key: str) -> Held | None:
        with self._lock:
            return self._held((bucket, key))

    def current(self, bucket: str) -> dict[str, ObjectState]:
        """The live objects of ``bucket`` (tombstones left out)."""
        with self._lock:
            return {
                key: stored.state
                for (b, key), stored in self.items.items()
                if b == bucket and stored.state.present
            }

    def _held(self, key: tuple[str, str]) -> Held | None:
        stored = self.items.get(key)
        return None if stored is None else _held(key[1], stored)


def _held(key: str, stored: Stored) -> Held:
    state = stored.state
    return Held(key, stored.stamp, state.present, state.size, state.etag, stored.wrote)
