"""Ordering stamps: strings whose order is the order of an object's states.

Two families, never mixed for a key in practice (one bucket either has S3's sequencers or not):

``S<64 hex>``  the event's S3 sequencer, right-padded with zeros as S3 documents. Exact:
                 S3 orders the events of one key.
``O<20 digits>`` the wall-clock nanosecond at which the engine *started* the HeadObject whose
                 answer it writes. Used when events carry no sequencer (the emulator).

Why an observation stamp converges (timeline for one key, time flowing right)::

    change A ──► change F (final, at T)          event(F) delivered after T
        HEAD#1 starts t1 < T  sees A or F          HEAD#2 starts t2 > T, sees F
        write(A, t1) ────────────────┐             write(F, t2) with stamp t2 > t1
                                     └─ lands late: "rev < t1" is false → rejected

Any HEAD that can still see a non-final state started before T, and the final event's HEAD
starts after T, so the final state carries the highest stamp and wins whatever order the writes
land in. Across processes this assumes clocks agree to within the delay between a change and
its event's processing (NTP keeps Lambda hosts within milliseconds; SQS delivery takes longer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bucketsync.events.sequencer import sequencer_sort_key

SEQUENCER_FAMILY = "S"
OBSERVED_FAMILY = "O"


def sequencer_stamp(sequencer: str) -> str:
    return SEQUENCER_FAMILY + sequencer_sort_key(sequencer)


class ObservationClock:
    """Strictly increasing nanosecond wall clock, shared by every thread of a process."""

    def __init__(self, now_ns: Callable[[], int] = time.time_ns) -> None:
        self._now_ns = now_ns
        self._last = 0
        self._lock = threading.Lock()

    def stamp(self) -> str:
        with self._lock:
            self._last = max(self._now_ns(), self._last + 1)
            return f"{OBSERVED_FAMILY}{self._last:020d}"
