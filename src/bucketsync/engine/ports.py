"""What the engine needs from the outside world, as protocols (no boto3 here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from bucketsync.engine.state import ObjectState, Outcome, Update


class ObjectSource(Protocol):
    """Reads an object's current state (HeadObject); an absent key is ``ABSENT``, not an error."""

    def lookup(self, bucket: str, key: str) -> ObjectState: ...


@runtime_checkable
class Sink(Protocol):
    """Something kept in step with the bucket.

    ``apply`` must be idempotent and order-safe: an update whose stamp is not newer than what
    the sink holds for that key changes nothing and reports ``STALE``. It returns one result
    per update, in order: an ``Outcome`` or the exception that update failed with, so one bad
    key never fails its neighbours.
    """

    name: str

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]: ...
