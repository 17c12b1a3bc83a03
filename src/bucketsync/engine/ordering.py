"""The one ordering rule every sink obeys: may this update replace what the sink holds for a key?

Two stamp families (``engine.stamp``): ``S…`` is S3's sequencer, exact per key; ``O…`` is the
wall-clock nanosecond at which an observation began (a HeadObject, a listing page). A sink
keeps, per key, the stamp of the state it wrote and ``wrote``: the ``O…`` stamp of the moment
it wrote it. An update carries its stamp and ``seen``, the ``O…`` stamp of the observation
that produced its state (none when the state is an event's own: a delete, lean mode).

    update ╲ held        S item                           O item
    S event, seen        sequencer order (exact)          seen > held stamp
    S event, no seen     sequencer order (exact)          CONFIRM: look it up, then as above
    O event              stamp > held wrote               stamp order
    repair (reconcile)   stamp > held wrote               stamp > held wrote

Why each cell holds (time flowing right):

* **S over S**: S3 orders one key's events; the higher sequencer is the later change.
* **O over O**: the rule of observation stamps (``engine.stamp``): the last change's lookup
  begins after that change, so it carries the highest stamp and lands last-writer-wins.
* **O event over an S item**: the S item was written at ``wrote``, after its state was known.
  An observation that began after ``wrote`` sees that state or a newer one, so it may replace
  it; one that began before may not. An S tombstone injected over observed state is therefore
  repaired by the next real upload, instead of standing for the tombstone's 30 days::

      S item written (wrote) ── upload ── HEAD begins (t > wrote) ── write(t): applies

* **S event over an O item**: a sequencer cannot be compared with a clock. An event whose
  state came from a lookup is an observation too, begun at ``seen``: the later observation
  wins. An event without one (a delete's tombstone, a lean create) is confirmed first: the
  engine looks the key up (``Outcome.CONFIRM``) and applies the observed state, still under
  the event's sequencer, so later events keep their exact order::

      O item (listing at t0) ── late delete event S1, no lookup ── CONFIRM: HEAD at t1 > t0
                                                                    says present → stays

* **A repair** (reconcile's write) is stricter: it applies only over what was written before
  its observation began (``held wrote < stamp``), whatever the family. So a reconcile never
  overwrites a state newer than what it listed, and an event newer than the listing always
  wins: written after the listing began, it is never replaced, and written before the
  repair lands, its stamp is compared with the repair's by the cells above::

      listing page (t) ── event writes k (wrote > t) ── repair(k, t) lands: wrote > t → stale

  Once delivery stops every item was written before the next reconcile's listing began, so
  that reconcile's repairs all apply, and the sink equals the bucket.

Every comparison of two clocks assumes the hosts' clocks agree to within the time between a
change and its processing (NTP keeps them within milliseconds), as observation stamps always
have. ``decide`` is the rule for sinks that read before they write under a lock (memory,
mirror); ``condition`` is the same rule as a DynamoDB ``ConditionExpression`` (catalog,
records manifests). ``tests/sinks`` holds every sink to both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from bucketsync.engine.stamp import OBSERVED_FAMILY, SEQUENCER_FAMILY
from bucketsync.engine.state import Held
from bucketsync.engine.update import Update


class Verdict(Enum):
    APPLY = "apply"
    STALE = "stale"
    CONFIRM = "confirm"  # look the key up and apply the observed state (see the table)


def observed(ns: int) -> str:
    """The ``O…`` stamp of a wall-clock nanosecond (``ObservationClock``'s format)."""
    return f"{OBSERVED_FAMILY}{ns:020d}"


def observed_at(seconds: float) -> str:
    """The ``O…`` stamp of a ``time.time()`` value (a row's write time, say)."""
    return observed(int(seconds * 1e9))


def observed_ns(stamp: str) -> int:
    """The wall-clock nanosecond an ``O…`` stamp stands for."""
    return int(stamp[1:])


def decide(held: Held | None, update: Update) -> Verdict:
    """Whether ``update`` may replace ``held`` (None: the sink holds nothing for the key)."""
    if held is None:
        return Verdict.APPLY
    if update.repair:
        return _apply_if(update.stamp > held.wrote)
    held_sequenced = held.stamp.startswith(SEQUENCER_FAMILY)
    if update.stamp.startswith(SEQUENCER_FAMILY):
        if held_sequenced:
            return _apply_if(update.stamp > held.stamp)
        if update.seen is None:
            return Verdict.CONFIRM
        return _apply_if(update.seen > held.stamp)
    if held_sequenced:
        return _apply_if(update.stamp > held.wrote)
    return _apply_if(update.stamp > held.stamp)


def _apply_if(newer: bool) -> Verdict:
    return Verdict.APPLY if newer else Verdict.STALE


@dataclass(frozen=True, slots=True)
class Condition:
    """A ConditionExpression and the names and values it uses (plain Python values)."""

    expression: str
    names: dict[str, str]
    values: dict[str, Any]


REV = "rev"
WROTE = "wrote"


def condition(update: Update, *, rev: str = REV, wrote: str = WROTE) -> Condition:
    """``decide`` as a DynamoDB condition on an item holding ``rev`` and ``wrote``.

    An item without ``wrote`` was written before bucketsync kept it: it counts as the oldest.
    For an S update without ``seen``, a failed condition does not tell STALE from CONFIRM:
    ask for the old item (``ReturnValuesOnConditionCheckFailure=ALL_OLD``) and ``decide``.
    Placeholders start with ``#o_`` and ``:o_`` so they can join another condition.
    """
    names = {"#o_rev": rev}
    values: dict[str, Any] = {":o_stamp": update.stamp}
    absent = "attribute_not_exists(#o_rev)"
    older_write = "(attribute_not_exists(#o_wrote) OR #o_wrote < :o_stamp)"
    if update.repair:
        names["#o_wrote"] = wrote
        return Condition(f"{absent} OR {older_write}", names, values)
    values[":o_s"] = SEQUENCER_FAMILY
    same_family = "(begins_with(#o_rev, :o_s) AND #o_rev < :o_stamp)"
    if update.stamp.startswith(SEQUENCER_FAMILY):
        if update.seen is None:
            return Condition(f"{absent} OR {same_family}", names, values)
        values[":o_o"] = OBSERVED_FAMILY
        values[":o_seen"] = update.seen
        over_observed = "(begins_with(#o_rev, :o_o) AND #o_rev < :o_seen)"
        return Condition(f"{absent} OR {same_family} OR {over_observed}", names, values)
    # An O stamp sorts below every S stamp, so "#o_rev < :o_stamp" alone is O over O.
    names["#o_wrote"] = wrote
    over_sequenced = f"(begins_with(#o_rev, :o_s) AND {older_write})"
    return Condition(f"{absent} OR #o_rev < :o_stamp OR {over_sequenced}", names, values)
