"""The lock-step march: the bucket's listing against each sink's listing, both in key order.

As rclone's ``fs/march``, every comparison ends in one of three callbacks, decided by one
``equal`` policy::

    listed, sink holds nothing (or a tombstone)     missing(side, listed, held or None)
    listed, sink holds it, not equal                stale(side, listed, held)
    listed, sink holds it, equal                    equal(side, listed, held)
    sink holds it (present), not listed             phantom(side, held, stamp)

A phantom's ``stamp`` is that of the page that proves the key absent: the page holding the
next listed key, or the last page. ``compared(key)`` says every key up to ``key`` was compared
in every side; ``march`` returning True says the whole range was. Keys out of order on either
side stop what they came from: the march relies on the order and never guesses. A sink whose
listing fails drops out (``failed``); a failing bucket listing ends the march. Nothing here
touches AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bucketsync.engine.state import Held
from bucketsync.errors import BucketSyncError
from bucketsync.reconcile.listing import Listed, Range


def equal(listed: Listed, held: Held) -> bool:
    """The one comparison: the sink holds this object's etag (and size, where both know it)."""
    return (
        held.present
        and held.etag is not None
        and held.etag == listed.etag
        and (held.size is None or listed.size is None or held.size == listed.size)
    )


class Visitor(Protocol):
    def missing(self, side: Side, listed: Listed, held: Held | None) -> None: ...

    def stale(self, side: Side, listed: Listed, held: Held) -> None: ...

    def equal(self, side: Side, listed: Listed, held: Held) -> None: ...

    def phantom(self, side: Side, held: Held, stamp: str) -> None: ...

    def compared(self, key: str) -> None: ...

    def failed(self, side: Side | None, error: str) -> None: ...


@dataclass(eq=False)
class Side:
    """One sink's listing as the march walks it."""

    name: str
    helds: Iterator[Held]
    in_scope: Callable[[str], bool]
    index: int = 0
    active: bool = True
    _head: Held | None = field(default=None, repr=False)
    _exhausted: bool = False
    _last: str | None = None

    def peek(self) -> Held | None:
        if self._head is None and not self._exhausted:
            held = next(self.helds, None)
            if held is None:
                self._exhausted = True
            else:
                if self._last is not None and held.key <= self._last:
                    raise BucketSyncError(f"the listing is out of order at {held.key!r}")
                self._last = held.key
                self._head = held
        return self._head

    def pop(self) -> Held:
        held, self._head = self._head, None
        assert held is not None
        return held


def march(listing: Range, sides: Sequence[Side], visitor: Visitor) -> bool:
    """Walk ``listing`` against every side; False if the bucket's listing failed."""
    last: str | None = None
    try:
        for listed in listing:
            if last is not None and listed.key <= last:
                visitor.failed(None, f"the bucket's listing is out of order at {listed.key!r}")
                return False
            last = listed.key
            for side in sides:
                if side.active:
                    _visit(side, listed, visitor)
            visitor.compared(listed.key)
    except BucketSyncError as exc:
        visitor.failed(None, str(exc))
        return False
    for side in sides:
        if side.active:
            _drain(side, listing.end_stamp, visitor)
    return True


def _visit(side: Side, listed: Listed, visitor: Visitor) -> None:
    try:
        while (held := side.peek()) is not None and held.key < listed.key:
            _phantom(side, side.pop(), listed.stamp, visitor)
        held = side.pop() if (head := side.peek()) is not None and head.key == listed.key else None
    except BucketSyncError as exc:
        _drop(side, exc, visitor)
        return
    if not side.in_scope(listed.key):
        return
    if held is None or not held.present:
        visitor.missing(side, listed, held)
    elif equal(listed, held):
        visitor.equal(side, listed, held)
    else:
        visitor.stale(side, listed, held)


def _drain(side: Side, stamp: str, visitor: Visitor) -> None:
    try:
        while side.peek() is not None:
            _phantom(side, side.pop(), stamp, visitor)
    except BucketSyncError as exc:
        _drop(side, exc, visitor)


def _phantom(side: Side, held: Held, stamp: str, visitor: Visitor) -> None:
    if held.present and side.in_scope(held.key):
        visitor.phantom(side, held, stamp)


def _drop(side: Side, exc: BucketSyncError, visitor: Visitor) -> None:
    side.active = False
    visitor.failed(side, f"{side.name}'s listing: {exc}")
