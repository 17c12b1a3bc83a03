"""What a sink should hold for one key, the ``Update`` the engine hands to sinks, and the
``Held`` a sink's listing gives back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bucketsync.events.model import Change


@dataclass(frozen=True, slots=True)
class ObjectState:
    """An object's current state, as HeadObject (or a lean event, or a listing) describes it.

    ``present=False`` is the tombstone state: the key is absent from the current view.
    """

    present: bool
    size: int | None = None
    etag: str | None = None
    content_type: str | None = None
    last_modified: datetime | None = None
    version_id: str | None = None
    storage_class: str | None = None
    is_multipart: bool | None = None
    encryption: str | None = None
    kms_key_id: str | None = None
    checksum_algorithm: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] | None = None
    preview: str | None = None


ABSENT = ObjectState(present=False)

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


@dataclass(frozen=True, slots=True)
class Held:
    """What a sink holds for one key, as its listing gives it back to reconcile.

    ``stamp`` is the stamp the state was written under; ``wrote`` the observation stamp
    (``O…``) of the moment the sink wrote it ("" when unknown: treated as the oldest).
    ``present=False`` is a tombstone. ``size`` and ``etag`` are what reconcile compares.
    """

    key: str
    stamp: str
    present: bool
    size: int | None = None
    etag: str | None = None
    wrote: str = ""


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
