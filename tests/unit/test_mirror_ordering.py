"""The mirror's ordering rule (``sinks.mirror.ordering.decide``) applied to the store's rows:
which updates may change a key, for sequencer and observation stamps, events with and without
their lookup's start, and a listing's repairs."""

from __future__ import annotations

import pytest

from bucketsync.engine.stamp import sequencer_stamp
from bucketsync.engine.state import ABSENT, ObjectState
from bucketsync.engine.update import Update
from bucketsync.sinks.mirror import Entry
from bucketsync.sinks.mirror.ordering import Verdict, decide

# -- ordering over the store's rows ---------------------------------------------------------


def seq(n: int) -> str:
    return sequencer_stamp(f"{n:016X}")


def obs(ns: int) -> str:
    return f"O{ns:020d}"


def row(stamp: str, *, present: bool = True, updated_at: float = 100.0) -> Entry:
    return Entry("k", "k", present, 1, "e", stamp, updated_at, "file" if present else "deleted")


def update(
    stamp: str, *, present: bool = True, seen: str | None = None, origin: str = "event"
) -> Update:
    state = ObjectState(present=True, size=1, etag="e") if present else ABSENT
    return Update("b", "k", state, stamp, (), seen, origin)


@pytest.mark.parametrize(
    ("held", "incoming", "verdict"),
    [
        (None, update(seq(1)), Verdict.APPLY),
        (row(seq(1)), update(seq(2)), Verdict.APPLY),
        (row(seq(2)), update(seq(1)), Verdict.STALE),
        (row(seq(2)), update(seq(2)), Verdict.STALE),  # a duplicate
        (row(seq(2), present=False), update(seq(1)), Verdict.STALE),  # late create
        (row(obs(5)), update(obs(6)), Verdict.APPLY),
        (row(obs(6)), update(obs(5), present=False), Verdict.STALE),
        # an observation that began before the row was written saw an older state
        (row(seq(9), updated_at=100.0), update(obs(99 * 10**9)), Verdict.STALE),
        (row(seq(9), updated_at=100.0), update(obs(100 * 10**9), present=False), Verdict.STALE),
        (row(seq(9), updated_at=100.0), update(obs(101 * 10**9), present=False), Verdict.APPLY),
        (row(seq(9), updated_at=100.0), update(obs(101 * 10**9)), Verdict.APPLY),
        # an event without a lookup over a full sync's row: the engine confirms it first
        (row(obs(10**20 - 1)), update(seq(1)), Verdict.CONFIRM),
        (row(obs(1)), update(seq(1), present=False), Verdict.CONFIRM),
        (row(obs(1), present=False), update(seq(1), present=False), Verdict.CONFIRM),
        # ... and with its lookup's start, the later observation wins
        (row(obs(5)), update(seq(1), seen=obs(6)), Verdict.APPLY),
        (row(obs(5)), update(seq(1), seen=obs(4)), Verdict.STALE),
        # a repair applies only over a row written before its listing began (updated_at 100 s)
        (row(obs(10**20 - 1)), update(obs(101 * 10**9), origin="listing"), Verdict.APPLY),
        (row(obs(1)), update(obs(99 * 10**9), origin="listing"), Verdict.STALE),
    ],
)
def test_which_updates_may_change_a_key(
    held: Entry | None, incoming: Update, verdict: Verdict
) -> None:
    assert decide(held, incoming) is verdict
