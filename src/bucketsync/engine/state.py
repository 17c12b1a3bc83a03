"""What a sink should hold for one key, and the ``Update`` the engine hands to sinks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bucketsync.events.model import Change


@dataclass(frozen=True, slots=True)
class ObjectState:
    """An object's current state, as HeadObject (or a lean event) describes it.

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


@dataclass(frozen=True, slots=True)
class Update:
    """One key's new state, stamped for conditional writes.

    ``stamp`` is a string whose order is the order of states for this key (see
    :mod:`bucketsync.engine.stamp`); a sink writes only when its stored stamp is lower.
    ``changes`` are every change of this key in the batch, newest last; ``change`` is the one
    the state stands for.
    """

    bucket: str
    key: str
    state: ObjectState
    stamp: str
    changes: tuple[Change, ...]

    @property
    def change(self) -> Change:
        return self.changes[-1]


class Outcome(StrEnum):
    APPLIED = "applied"
    # The sink already held this stamp or a newer one: duplicate or out-of-order delivery.
    STALE = "stale"
    # No rule sends this object to the sink.
    SKIPPED = "skipped"
    # The object cannot be taken in (a data file that does not parse): recorded, not retried.
    REJECTED = "rejected"
