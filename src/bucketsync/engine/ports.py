"""What the engine and reconcile need from the outside world, as protocols (no boto3 here)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from bucketsync.engine.state import Held, ObjectState
from bucketsync.engine.update import Outcome, Update


class ObjectSource(Protocol):
    """Reads an object's current state (HeadObject); an absent key is ``ABSENT``, not an error."""

    def lookup(self, bucket: str, key: str) -> ObjectState: ...


@runtime_checkable
class Sink(Protocol):
    """Something kept in step with the bucket.

    ``apply`` must be idempotent and order-safe, by the one rule of
    :mod:`bucketsync.engine.ordering`: an update that may not replace what the sink holds
    changes nothing and reports ``STALE`` (or ``CONFIRM``, for the engine to look the key up).
    It returns one result per update, in order: an ``Outcome`` or the exception that update
    failed with, so one bad key never fails its neighbours. ``close`` releases what the sink
    holds (pools, files); calling it twice is safe.
    """

    name: str

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]: ...

    def close(self) -> None: ...


@runtime_checkable
class Listable(Protocol):
    """A sink reconcile can compare with the bucket.

    ``listing`` yields what the sink holds for ``bucket`` under ``prefix``, after
    ``start_after`` and up to ``upto`` (inclusive; None: to the end), in S3's key order (UTF-8
    bytes, which is Python's ``str`` order), tombstones included (``present=False``).
    ``in_scope`` says whether the sink holds a key at all (the mirror skips folder
    placeholders, the records sink keys no rule routes).
    """

    name: str

    def listing(
        self, bucket: str, prefix: str = "", start_after: str = "", upto: str | None = None
    ) -> Iterator[Held]: ...

    def in_scope(self, bucket: str, key: str) -> bool: ...
