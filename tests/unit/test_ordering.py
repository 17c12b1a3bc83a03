"""The one ordering rule (engine.ordering), cell by cell, and the properties it is chosen for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bucketsync.engine.ordering import Verdict, condition, decide, observed
from bucketsync.engine.stamp import sequencer_stamp
from bucketsync.engine.state import ABSENT, Held, ObjectState
from bucketsync.engine.update import Update


def seq(n: int) -> str:
    return sequencer_stamp(f"{n:016X}")


def held(stamp: str, wrote: int) -> Held:
    return Held("k", stamp, True, 1, "e", observed(wrote))


def update(stamp: str, *, seen: int | None = None, origin: str = "event") -> Update:
    state = ObjectState(present=True, size=1, etag="e")
    return Update("b", "k", state, stamp, (), None if seen is None else observed(seen), origin)


@pytest.mark.parametrize(
    ("item", "incoming", "verdict"),
    [
        # nothing held: anything applies
        (None, update(seq(1)), Verdict.APPLY),
        (None, update(observed(1), origin="listing"), Verdict.APPLY),
        # S over S: the sequencer decides, exactly (a duplicate is stale)
        (held(seq(2), 50), update(seq(3)), Verdict.APPLY),
        (held(seq(2), 50), update(seq(2)), Verdict.STALE),
        (held(seq(2), 50), update(seq(1), seen=10**6), Verdict.STALE),
        # O over O: the observation stamps decide
        (held(observed(5), 50), update(observed(6)), Verdict.APPLY),
        (held(observed(5), 50), update(observed(5)), Verdict.STALE),
        # O event over an S item: only an observation begun after the item was written
        (held(seq(9), 50), update(observed(51)), Verdict.APPLY),
        (held(seq(9), 50), update(observed(50)), Verdict.STALE),
        # S event over an O item: its lookup's start against the item's observation ...
        (held(observed(40), 50), update(seq(1), seen=41), Verdict.APPLY),
        (held(observed(40), 50), update(seq(1), seen=39), Verdict.STALE),
        # ... and without a lookup, confirm it first
        (held(observed(40), 50), update(seq(1)), Verdict.CONFIRM),
        # a repair applies over what was written before its listing began, any family
        (held(seq(9), 50), update(observed(51), origin="listing"), Verdict.APPLY),
        (held(seq(9), 50), update(observed(49), origin="listing"), Verdict.STALE),
        (held(observed(10), 50), update(observed(49), origin="inventory"), Verdict.STALE),
        (held(observed(10), 50), update(observed(51), origin="head"), Verdict.APPLY),
        # an item written before bucketsync kept `wrote` counts as the oldest
        (Held("k", seq(9), True), update(observed(1), origin="listing"), Verdict.APPLY),
    ],
)
def test_each_cell_of_the_rule(item: Held | None, incoming: Update, verdict: Verdict) -> None:
    assert decide(item, incoming) is verdict


def test_an_injected_sequencer_tombstone_is_repaired_by_the_next_real_upload() -> None:
    # GIVEN a key whose state is observed (the emulator), and an injected S tombstone over it
    tombstone = Update("b", "k", ABSENT, seq(0xFFFF), ())
    assert decide(held(observed(10), 20), tombstone) is Verdict.CONFIRM  # no blind tombstone
    # (had it landed anyway, written at t=30)
    landed = Held("k", seq(0xFFFF), False, wrote=observed(30))
    # WHEN a real upload is observed afterwards
    # THEN it replaces the tombstone, though S stamps sort above every O stamp
    assert decide(landed, update(observed(31))) is Verdict.APPLY


def test_a_repair_never_replaces_what_was_written_after_its_listing_began() -> None:
    listing_began = 100
    for stamp in (seq(1), seq(2**60), observed(1), observed(99), observed(10**15)):
        written_after = held(stamp, listing_began + 1)
        assert decide(written_after, update(observed(listing_began), origin="listing")) is (
            Verdict.STALE
        )


stamps = st.one_of(
    st.integers(0, 2**64 - 1).map(seq),
    st.integers(0, 10**19).map(observed),
)


@given(data=st.data(), wrote=st.integers(0, 10**19), later=st.integers(1, 10**6))
def test_an_event_observed_after_a_repair_was_written_always_wins(
    data: st.DataObject, wrote: int, later: int
) -> None:
    # GIVEN an item a repair wrote at `wrote`, from a listing begun at or before it
    listed = data.draw(st.integers(0, wrote))
    item = Held("k", observed(listed), True, wrote=observed(wrote))
    # WHEN an event's lookup began after that write, with or without a sequencer
    # THEN its newer observation replaces the repair's
    assert decide(item, update(observed(wrote + later))) is Verdict.APPLY
    assert decide(item, update(seq(1), seen=wrote + later)) is Verdict.APPLY


@given(incoming=stamps, seen=st.one_of(st.none(), st.integers(0, 10**19)))
def test_the_condition_declares_exactly_the_placeholders_it_uses(
    incoming: str, seen: int | None
) -> None:
    # Its verdicts are checked against moto in tests/sinks; here, that DynamoDB would accept
    # it: every name and value declared is used (unused ones are a ValidationException).
    for origin in ("event", "listing"):
        rule = condition(update(incoming, seen=seen, origin=origin))
        used = {
            token
            for token in rule.expression.replace("(", " ")
            .replace(")", " ")
            .replace(",", " ")
            .split()
            if token.startswith(("#", ":"))
        }
        assert used == {*rule.names, *rule.values}
