"""What reconcile guarantees (docs/ordering.md), over random histories (property-based).

A random history of creates, overwrites and deletes, some events carrying S3 sequencers and
some not (the stamp families meet), delivered lossy, duplicated and shuffled; then one
reconcile. Once delivery stops, one reconcile makes the sink equal to the bucket. Events that
land while the reconcile runs win over its repairs, and it never replaces what they wrote.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bucketsync.engine.pipeline import Engine
from bucketsync.engine.stamp import ObservationClock
from bucketsync.events import Change
from bucketsync.reconcile.run import Options, Reconciler
from bucketsync.sinks.memory import MemorySink
from tests.unit.fakes import BUCKET, FakeBucket, FakeListing

KEYS = st.sampled_from(["a", "b", "c/d e", "é+ü", "z"])
OPS = st.lists(
    st.tuples(KEYS, st.one_of(st.none(), st.binary(max_size=3)), st.booleans()),
    min_size=1,
    max_size=25,
)  # (key, None: delete | body, with a sequencer)


def history(bucket: FakeBucket, ops: list[tuple[str, bytes | None, bool]]) -> list[Change]:
    events = []
    for key, body, sequenced in ops:
        bucket.with_sequencers = sequenced
        events.append(bucket.delete(key) if body is None else bucket.put(key, body))
    return events


def lossy(events: list[Change], rng: random.Random) -> list[list[Change]]:
    """Some events lost, some duplicated, shuffled, in batches of 1..5."""
    kept = [e for e in events for _ in range(rng.choice([0, 1, 1, 2]))]
    rng.shuffle(kept)
    return [kept[i : i + rng.randint(1, 5)] for i in range(0, len(kept), 5)]


def view(sink: MemorySink) -> dict[str, tuple[int | None, str | None]]:
    return {k: (s.size, s.etag) for k, s in sink.current(BUCKET).items()}


@settings(max_examples=150, deadline=None)
@given(ops=OPS, seed=st.integers(0, 2**32), lean=st.booleans(), page=st.integers(1, 4))
def test_once_delivery_stops_one_reconcile_makes_the_sink_equal(
    ops: list[tuple[str, bytes | None, bool]], seed: int, lean: bool, page: int
) -> None:
    clock = ObservationClock()
    bucket = FakeBucket()
    sink = MemorySink(clock=clock.stamp)
    engine = Engine(bucket, [sink], lean=lean, clock=clock)
    for batch in lossy(history(bucket, ops), random.Random(seed)):
        engine.process_changes(batch)
    report = Reconciler(FakeListing(bucket, clock, page_size=page), [sink], clock=clock).run()
    assert not report.failed, report.errors
    assert view(sink) == bucket.view()


@settings(max_examples=150, deadline=None)
@given(
    before=OPS,
    during=OPS,
    seed=st.integers(0, 2**32),
    page=st.integers(1, 3),
    workers=st.sampled_from([1, 4]),
)
def test_events_landing_during_a_reconcile_win_over_its_repairs(
    before: list[tuple[str, bytes | None, bool]],
    during: list[tuple[str, bytes | None, bool]],
    seed: int,
    page: int,
    workers: int,
) -> None:
    # GIVEN a sink that missed events, and changes whose events land while reconcile runs,
    # between its pages (so over keys it listed before, and keys it has not reached yet)
    rng = random.Random(seed)
    clock = ObservationClock()
    bucket = FakeBucket()
    sink = MemorySink(clock=clock.stamp)
    engine = Engine(bucket, [sink], clock=clock)
    for batch in lossy(history(bucket, before), rng):
        engine.process_changes(batch)
    pending = list(during)

    def changes_land(_: int) -> None:
        for _ in range(rng.randint(0, 3)):
            if pending:
                engine.process_changes(history(bucket, [pending.pop(0)]))

    listing = FakeListing(bucket, clock, page_size=page, between_pages=changes_land)
    # WHEN the reconcile runs (its repairs racing those events on the pool)
    Reconciler(listing, [sink], options=Options(workers=workers, batch=2), clock=clock).run()
    for op in pending:  # the rest land after it: delivery then stops
        engine.process_changes(history(bucket, [op]))
    # THEN no repair replaced a newer write: every event delivered still stands
    assert view(sink) == bucket.view()
