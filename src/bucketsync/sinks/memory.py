"""An in-memory sink: the executable specification every sink must match.

It keeps exactly what the catalog keeps for the current view: per key, the state with the
highest stamp seen, tombstones included.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from bucketsync.engine.state import ObjectState, Outcome, Update


class MemorySink:
    name = "memory"

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], tuple[str, ObjectState]] = {}
        self._lock = threading.Lock()

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]:
        results: list[Outcome | BaseException] = []
        with self._lock:  # stands for DynamoDB's per-item atomic conditional write
            for update in updates:
                key = (update.bucket, update.key)
                held = self.items.get(key)
                if held is not None and held[0] >= update.stamp:
                    results.append(Outcome.STALE)
                    continue
                self.items[key] = (update.stamp, update.state)
                results.append(Outcome.APPLIED)
        return results

    def current(self, bucket: str) -> dict[str, ObjectState]:
        """The live objects of ``bucket`` (tombstones left out)."""
        with self._lock:
            return {
                key: state
                for (b, key), (_, state) in self.items.items()
                if b == bucket and state.present
            }
