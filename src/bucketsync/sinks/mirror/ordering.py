"""Whether an update may change the mirror's copy of a key, given the row the store holds.

Same family (``S`` vs ``S``, ``O`` vs ``O``): the higher stamp wins, as in every sink.

Across families the stamps cannot be compared, which happens when a full sync (observation
stamps, ``O``) runs beside events with S3 sequencers (``S``). Then:

* ``O`` update over an ``S`` row: the ``O`` stamp is the wall-clock time at which that
  observation (a listing page) began. A row written after that time came from a GET made
  after it, so it is at least as new as what the observation saw: ``STALE``. Otherwise apply.
  Timeline, for a full sync's delete::

      listing starts (t0) ── key not listed ── event re-creates key, row written (t1 > t0)
                                                 └─ delete(stamp t0) arrives: t1 >= t0 → stale

* ``S`` update over an ``O`` row: a create is applied (its GET carries ``IfMatch``, so it can
  only write what is current); a delete must first be confirmed by a HeadObject, because the
  row may stand for a re-creation that happened after the delete and whose event was already
  spent::

      delete (S1) ── create (S2): event applied ── full sync skips, row stamp → O
                                                     └─ late delete(S1): S vs O → HEAD says
                                                        present → stale, file kept

Every decision is taken while holding the key's lock, so the row cannot change under it.
"""

from __future__ import annotations

from enum import Enum

from bucketsync.engine.stamp import OBSERVED_FAMILY
from bucketsync.engine.state import Update
from bucketsync.sinks.mirror.store import Entry


class Verdict(Enum):
    APPLY = "apply"
    STALE = "stale"
    CONFIRM_ABSENT = "confirm_absent"  # a delete to apply only if HeadObject finds no object


def observed_ns(stamp: str) -> int:
    """The wall-clock nanosecond an ``O`` stamp stands for."""
    return int(stamp[1:])


def decide(held: Entry | None, update: Update) -> Verdict:
    if held is None:
        return Verdict.APPLY
    if held.stamp[:1] == update.stamp[:1]:
        return Verdict.APPLY if update.stamp > held.stamp else Verdict.STALE
    if update.stamp.startswith(OBSERVED_FAMILY):
        written_ns = int(held.updated_at * 1e9)
        return Verdict.STALE if written_ns >= observed_ns(update.stamp) else Verdict.APPLY
    if not update.state.present and held.present:
        return Verdict.CONFIRM_ABSENT
    return Verdict.APPLY
