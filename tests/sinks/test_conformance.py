"""Every sink obeys one contract: the in-memory sink is the spec, the emulator the ground.

Each test runs once per sink (``harness``, tests/sinks/conftest.py). Where a test applies the
same updates to the sink and to a ``MemorySink``, the outcomes and the listings must match.
"""

from __future__ import annotations

import random
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bucketsync.engine.update import Outcome
from bucketsync.sinks.memory import MemorySink
from tests.sinks.conftest import BAD_KEY, Harness, observe, same, seq, spec_listing


def test_reapplying_an_update_is_stale(harness: Harness) -> None:
    # GIVEN an update applied once
    update = harness.created("a.jsonl", seq(1))
    assert same(harness.sink.apply([update])) == ["applied"]
    # WHEN it is applied again (a duplicate delivery)
    # THEN it changes nothing
    assert harness.sink.apply([update]) == [Outcome.STALE]
    assert harness.listing() == [("a.jsonl", True, seq(1), update.state.etag)]


def test_an_older_update_after_a_newer_one_is_stale(harness: Harness) -> None:
    for key, (older, newer) in {
        "sequenced.jsonl": (seq(1), seq(2)),
        "observed.jsonl": (observe(), observe()),
    }.items():
        # GIVEN the newer version applied
        old = harness.created(key, older, version=1)
        new = harness.created(key, newer, version=2)
        assert same(harness.sink.apply([new])) == ["applied"]
        # WHEN the older one arrives late
        # THEN it is stale, and the newer version stays
        assert harness.sink.apply([old]) == [Outcome.STALE]
        assert harness.listing(key) == [(key, True, newer, new.state.etag)]


def test_a_tombstone_beats_an_older_create(harness: Harness) -> None:
    create = harness.created("gone.jsonl", seq(1))
    assert same(harness.sink.apply([harness.removed("gone.jsonl", seq(2))])) == ["applied"]
    assert harness.sink.apply([create]) == [Outcome.STALE]
    assert harness.listing() == [("gone.jsonl", False, seq(2), None)]


def test_results_match_updates_in_length_and_order(harness: Harness) -> None:
    spec = MemorySink()
    first = [harness.created("x.jsonl", seq(5))]
    assert same(harness.sink.apply(first)) == same(spec.apply(first))
    batch = [
        harness.created("a.jsonl", seq(1)),
        harness.created("x.jsonl", seq(3)),  # older than what is held: stale
        harness.removed("y.jsonl", seq(1)),
        harness.created("z.jsonl", seq(1)),
    ]
    results = harness.sink.apply(batch)
    assert same(results) == same(spec.apply(batch)) == ["applied", "stale", "applied", "applied"]
    assert harness.listing() == spec_listing(spec, harness.bucket)


def test_one_bad_key_fails_alone(harness: Harness) -> None:
    batch = [
        harness.created("good-1.jsonl", seq(1)),
        harness.bad(),
        harness.created("good-2.jsonl", seq(1)),
    ]
    results = harness.sink.apply(batch)
    assert isinstance(results[1], Exception)
    assert same([results[0], results[2]]) == ["applied", "applied"]
    assert [key for key, *_ in harness.listing("good")] == ["good-1.jsonl", "good-2.jsonl"]
    assert BAD_KEY not in [key for key, present, *_ in harness.listing() if present]


def test_close_twice_is_safe(harness: Harness) -> None:
    harness.sink.close()
    harness.sink.close()


TRICKY = [
    "plain.jsonl",
    "with space.jsonl",
    "a+b.jsonl",
    "percent%20.jsonl",
    "percent%.jsonl",
    "caf\u00e9-1.jsonl",
    "caf\u00e9-2.jsonl",  # differs from the one above only after a byte >= 0x80
    "caf\u00ea.jsonl",
    "d/\u00ff.jsonl",
    "d/\u0100.jsonl",
    "d/\u65e5\u672c.jsonl",
    "d/\U0001f600.jsonl",  # 4 UTF-8 bytes: sorts after U+FFFF as bytes and as code points
    "d/\uff5e.jsonl",
    "d/z.jsonl",
    "d.jsonl",
    "d0.jsonl",
]


def test_listing_round_trips_what_was_applied_in_byte_order(harness: Harness) -> None:
    # GIVEN tricky keys applied in a random order (one of them deleted)
    spec = MemorySink()
    shuffled = random.Random(7).sample(TRICKY, len(TRICKY))
    updates = [harness.created(key, seq(1)) for key in shuffled]
    updates.append(harness.removed("a+b.jsonl", seq(2)))
    for update in updates:
        assert same(harness.sink.apply([update])) == same(spec.apply([update]))
    # WHEN the sink lists them back, whole, under prefixes, and after a key
    # THEN it gives exactly what was applied, in S3's order (UTF-8 bytes)
    listed = harness.listing()
    assert [key for key, *_ in listed] == sorted(TRICKY, key=lambda k: k.encode())
    assert listed == spec_listing(spec, harness.bucket)
    for prefix, start_after, upto in [
        ("d/", "", None),
        ("caf\u00e9", "", None),
        ("", "caf\u00e9-1.jsonl", None),
        ("d/", "d/\u0100.jsonl", None),
        ("d", "d/\uff5e.jsonl", None),
        ("", "zzz", None),
        ("d/", "a", None),
        ("", "", "caf\u00e9-1.jsonl"),  # a shard's range: (start_after, upto]
        ("", "caf\u00e9-1.jsonl", "d/\u65e5\u672c.jsonl"),
        ("d/", "d/\u00ff.jsonl", "d/\uff5e.jsonl"),
        ("", "d0.jsonl", "zzz"),
        ("", "a", "a"),
    ]:
        assert harness.listing(prefix, start_after, upto) == spec_listing(
            spec, harness.bucket, prefix, start_after, upto
        ), (prefix, start_after, upto)


# -- where the stamp families meet (engine.ordering) -------------------------------------------


def test_an_observation_begun_after_a_sequenced_write_replaces_it(harness: Harness) -> None:
    before = observe()
    written = harness.created("k.jsonl", seq(9), version=1)
    assert same(harness.sink.apply([written])) == ["applied"]
    # an observation that began before the write saw an older state: stale
    assert harness.sink.apply([harness.created("k.jsonl", before, version=2)]) == [Outcome.STALE]
    # one begun after it replaces it, though S stamps sort above every O stamp
    later = harness.created("k.jsonl", observe(), version=3)
    assert same(harness.sink.apply([later])) == ["applied"]
    assert harness.listing() == [("k.jsonl", True, later.stamp, later.state.etag)]


def test_a_sequencer_meets_an_observed_state_by_its_lookup_or_asks_to_confirm(
    harness: Harness,
) -> None:
    observed = harness.created("k.jsonl", observe(), version=1)
    assert same(harness.sink.apply([observed])) == ["applied"]
    # without a lookup (a delete, lean mode), a sequencer cannot be compared: confirm first
    assert harness.sink.apply([harness.removed("k.jsonl", seq(1))]) == [Outcome.CONFIRM]
    assert harness.sink.apply([harness.created("k.jsonl", seq(1), version=2)]) == [Outcome.CONFIRM]
    # with a lookup begun before the observation: stale; after it: applied
    early = harness.created("k.jsonl", seq(1), version=2, seen=observed.stamp[:-1] + "0")
    assert harness.sink.apply([early]) == [Outcome.STALE]
    late = harness.created("k.jsonl", seq(1), version=2, seen=observe())
    assert same(harness.sink.apply([late])) == ["applied"]
    assert harness.listing() == [("k.jsonl", True, seq(1), late.state.etag)]


def test_a_repair_applies_only_over_what_was_written_before_its_listing(
    harness: Harness,
) -> None:
    listing_began = observe()
    event = harness.created("k.jsonl", seq(3), version=1)
    assert same(harness.sink.apply([event])) == ["applied"]
    # the event was written after the listing began: the repair must not replace it
    stale_repair = harness.removed("k.jsonl", listing_began, origin="listing")
    assert harness.sink.apply([stale_repair]) == [Outcome.STALE]
    # a repair whose listing began after the write does, whatever the families
    repair = harness.created("k.jsonl", observe(), version=2, seen=None, origin="listing")
    assert same(harness.sink.apply([repair])) == ["applied"]
    assert harness.listing() == [("k.jsonl", True, repair.stamp, repair.state.etag)]
    # and so does a repair's tombstone
    gone = harness.removed("k.jsonl", observe(), origin="listing")
    assert same(harness.sink.apply([gone])) == ["applied"]
    assert harness.listing() == [("k.jsonl", False, gone.stamp, None)]


# -- any sequence, held against the spec (property-based) ---------------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["a.jsonl", "b/c d.jsonl"]),
        st.sampled_from(["create", "delete"]),
        # S: a sequencer; O: an observation begun now; old O: one begun before earlier writes;
        # repair: a listing's, now; S+seen: a sequencer with a lookup begun now
        st.sampled_from(["S", "O", "old O", "repair", "S+seen"]),
        st.integers(1, 4),  # the sequencer's number
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_any_sequence_of_updates_ends_as_the_spec_says(
    harness: Harness, ops: list[tuple[str, str, str, int]]
) -> None:
    # Every example in its own keys; the spec is a fresh MemorySink. Each update is made just
    # before it is applied to both, so both sinks wrote everything before it was stamped.
    spec = MemorySink()
    prefix = f"x{uuid.uuid4().hex[:8]}/"
    earlier = observe()
    for version, (name, kind, family, number) in enumerate(ops, start=1):
        key = prefix + name
        stamp, seen, origin = {
            "S": (seq(number), None, "event"),
            "S+seen": (seq(number), observe(), "event"),
            "O": (observe(), None, "event"),
            "old O": (earlier, None, "event"),
            "repair": (observe(), None, "listing"),
        }[family]
        if kind == "create":
            update = harness.created(key, stamp, version=version, seen=seen, origin=origin)
        else:
            update = harness.removed(key, stamp, seen=seen, origin=origin)
        assert same(harness.sink.apply([update])) == same(spec.apply([update])), (key, family)
        earlier = earlier if version % 2 else observe()
    assert harness.listing(prefix) == spec_listing(spec, harness.bucket, prefix)
