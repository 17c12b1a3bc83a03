"""The ``Update`` the engine hands to sinks (one key's new state, stamped), and the ``Outcome``
of applying one."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bucketsync.engine.state import ObjectState
from bucketsync.events.model import Change

# Where an update's state comes from. "event": an event (and the HeadObject it caused); the
# others are reconcile's repairs: a listing, an inventory report, a HeadObject of its own.
EVENT = "event"
REPAIR_ORIGINS = frozenset({"listing", "inventory", "head"})


@dataclass(frozen=True, slots=True)
class Update:
    """One key's new state, stamped for conditional writes.

    ``stamp`` orders the states of this key (:mod:`bucketsync.engine.stamp`). ``seen`` is the
    observation stamp (``O…``) taken when the lookup or listing that produced ``state`` began;
    ``None`` when the state is the event's own (a delete, lean mode), which no clock places.
    ``origin`` says where the state came from: an event, or one of reconcile's repairs, which
    obey the stricter rule of :mod:`bucketsync.engine.ordering`. ``changes`` are every change
    of this key in the batch, newest last (none for a repair).
    """

    bucket: str
    key: str
    state: ObjectState
    stamp: str
    changes: tuple[Change, ...] = ()
    seen: str | None = None
    origin: str = EVENT

    @property
    def change(self) -> Change | None:
        return self.changes[-1] if self.changes else None

    @property
    def repair(self) -> bool:
        return self.origin != EVENT


class Outcome(StrEnum):
    APPLIED = "applied"
    # The sink already held this stamp or a newer one: duplicate or out-of-order delivery.
    STALE = "stale"
    # No rule sends this object to the sink.
    SKIPPED = "skipped"
    # The object cannot be taken in (a data file that does not parse): recorded, not retried.
    REJECTED = "rejected"
    # The update carries no observation and the sink holds an observed state, which a
    # sequencer cannot be compared with: look the key up and apply again (engine.ordering).
    CONFIRM = "confirm"
