"""What a sink should hold for one key (``ObjectState``), and what it does hold, as its listing
gives it back (``Held``). The ``Update`` the engine hands to sinks, and the ``Outcome`` of
applying one: ``bucketsync.engine.update``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


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
