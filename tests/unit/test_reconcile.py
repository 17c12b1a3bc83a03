"""Reconcile, example by example, on the in-memory sink and an in-memory listing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bucketsync.engine.pipeline import Engine
from bucketsync.engine.stamp import ObservationClock
from bucketsync.engine.update import Outcome, Update
from bucketsync.reconcile.repairs import Watermark
from bucketsync.reconcile.run import Options, Reconciler
from bucketsync.reconcile.shards import Shard
from bucketsync.sinks.memory import MemorySink
from tests.unit.fakes import BUCKET, FakeBucket, FakeListing


class Spy(MemorySink):
    """A MemorySink that counts the updates it was given."""

    def __init__(self, clock: ObservationClock) -> None:
        super().__init__(clock=clock.stamp)
        self.given: list[Update] = []

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]:
        self.given.extend(updates)
        return super().apply(updates)


class Checkpoints(dict[str, tuple[str, bool]]):
    def load(self) -> dict[str, tuple[str, bool]]:
        return dict(self)

    def save(self, positions: dict[str, tuple[str, bool]]) -> None:
        self.clear()
        self.update(positions)


def view(sink: MemorySink) -> dict[str, tuple[int | None, str | None]]:
    return {k: (s.size, s.etag) for k, s in sink.current(BUCKET).items()}


def setup(n: int = 5, **listing: Any) -> tuple[FakeBucket, Spy, FakeListing, ObservationClock]:
    clock = ObservationClock()
    bucket = FakeBucket()
    for i in range(n):
        bucket.put(f"k{i}", f"body {i}".encode())
    return bucket, Spy(clock), FakeListing(bucket, clock, **listing), clock


def test_a_bucket_filled_before_bucketsync_is_backfilled_then_found_equal() -> None:
    # GIVEN objects that no event ever reached an empty sink
    bucket, sink, listing, clock = setup(7)
    # WHEN reconcile runs
    report = Reconciler(listing, [sink], clock=clock).run()
    # THEN every object is written, from the listing, and the run exits 0
    assert view(sink) == bucket.view()
    drift = report.sinks["memory"]
    assert (drift.missing, drift.repaired, drift.stale, drift.phantom) == (7, 7, 0, 0)
    assert {stored.origin for stored in sink.items.values()} == {"listing"}
    assert report.exit_code() == 0 and report.position is None
    # AND a second run finds nothing to do and writes nothing
    sink.given.clear()
    again = Reconciler(FakeListing(bucket, clock), [sink], clock=clock).run()
    assert again.sinks["memory"].equal == 7 and again.drift == 0
    assert sink.given == []


def test_each_drift_class_is_found_and_repaired() -> None:
    bucket, sink, listing, clock = setup(4)
    Reconciler(FakeListing(bucket, clock), [sink], clock=clock).run()
    bucket.put("k1", b"changed")  # stale
    bucket.put("new", b"new")  # missing
    bucket.delete("k2")  # phantom
    report = Reconciler(listing, [sink], clock=clock).run()
    drift = report.sinks["memory"]
    assert (drift.missing, drift.stale, drift.phantom, drift.equal) == (1, 1, 1, 2)
    assert drift.first == {"missing": ["new"], "stale": ["k1"], "phantom": ["k2"]}
    assert view(sink) == bucket.view()
    assert not sink.items[(BUCKET, "k2")].state.present  # a tombstone, not a removal


def test_a_dry_run_reports_and_touches_nothing() -> None:
    bucket, sink, listing, clock = setup(3)
    sink.apply([Update(BUCKET, "ghost", bucket.lookup(BUCKET, "k0"), clock.stamp())])
    sink.given.clear()
    report = Reconciler(listing, [sink], options=Options(dry_run=True), clock=clock).run()
    drift = report.sinks["memory"]
    assert (drift.missing, drift.phantom, drift.repaired) == (3, 1, 0)
    assert sink.given == []
    assert report.exit_code() == 1


def test_a_strict_run_exits_1_when_it_repaired_drift() -> None:
    _, sink, listing, clock = setup(2)
    report = Reconciler(listing, [sink], clock=clock).run()
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 1


def test_no_delete_in_a_run_that_saw_a_listing_error() -> None:
    # GIVEN phantoms, and a listing that fails on its third page
    bucket, sink, _, clock = setup(6)
    Reconciler(FakeListing(bucket, clock), [sink], clock=clock).run()
    bucket.delete("k0")
    bucket.put("k3", b"changed")
    failing = FakeListing(bucket, clock, page_size=2, fail_at=3)
    # WHEN reconcile runs
    report = Reconciler(failing, [sink], clock=clock).run()
    # THEN what was listed is repaired, nothing is deleted, and it says why
    assert view(sink)["k3"] == bucket.view()["k3"]
    assert sink.items[(BUCKET, "k0")].state.present
    assert report.sinks["memory"].not_deleted == 1
    assert report.deletes_refused and "injected" in report.deletes_refused
    assert report.exit_code() == 2


def test_max_delete_stops_before_the_limit_is_crossed() -> None:
    bucket, sink, _, clock = setup(6)
    Reconciler(FakeListing(bucket, clock), [sink], clock=clock).run()
    for i in range(5):
        bucket.delete(f"k{i}")
    options = Options(max_delete=3)
    report = Reconciler(FakeListing(bucket, clock), [sink], options=options, clock=clock).run()
    drift = report.sinks["memory"]
    assert (drift.phantom, drift.repaired, drift.not_deleted) == (5, 3, 2)
    assert len(view(sink)) == 6 - 3
    assert report.exit_code() == 2
    assert report.position is not None  # the run is not done: a resume finds the rest


def test_an_interrupted_run_resumes_from_its_checkpoint() -> None:
    # GIVEN a run that stops on its fourth page, checkpointed
    bucket, sink, _, clock = setup(10)
    checkpoints = Checkpoints()
    broken = FakeListing(bucket, clock, page_size=2, fail_at=4)
    first = Reconciler(broken, [sink], checkpoints=checkpoints, clock=clock).run()
    assert first.exit_code() == 2
    position, done = next(iter(checkpoints.values()))
    assert position == "k5" and not done  # pages 1-3 were compared and repaired
    # WHEN it is resumed
    listing = FakeListing(bucket, clock, page_size=2)
    second = Reconciler(listing, [sink], checkpoints=checkpoints, clock=clock).run(resume=True)
    # THEN it starts after the checkpoint, and the sink ends equal
    assert second.resumed_from == "k5"
    assert second.listed == 4 and listing.pages == 3
    assert view(sink) == bucket.view()
    assert next(iter(checkpoints.values()))[1] is True


def test_shards_march_in_parallel_and_cover_every_key_once() -> None:
    bucket, sink, listing, clock = setup(20)
    shards = [Shard("", "k13"), Shard("k13", "k5"), Shard("k5", None)]
    report = Reconciler(listing, [sink], clock=clock).run(shards)
    assert report.listed == 20 and report.sinks["memory"].repaired == 20
    assert view(sink) == bucket.view()


def test_with_head_each_drifted_key_is_looked_up() -> None:
    bucket, sink, listing, clock = setup(3)
    report = Reconciler(
        listing, [sink], options=Options(head=True), lookup=bucket, clock=clock
    ).run()
    assert report.sinks["memory"].repaired == 3
    assert bucket.lookups == 3
    assert {stored.origin for stored in sink.items.values()} == {"head"}


def test_an_event_landing_during_the_run_wins() -> None:
    # GIVEN a sink fed by events, a reconcile under way, and an overwrite of an already
    # listed key whose event lands mid-run
    clock = ObservationClock()
    bucket = FakeBucket()
    sink = Spy(clock)
    engine = Engine(bucket, [sink], clock=clock)
    for i in range(6):
        bucket.put(f"k{i}", b"old")  # never delivered: all missing

    def overwrite(page: int) -> None:
        if page == 2:
            engine.process_changes([bucket.put("k0", b"newer than the listing")])

    listing = FakeListing(bucket, clock, page_size=2, between_pages=overwrite)
    Reconciler(listing, [sink], clock=clock).run()
    # THEN the event's state stands, whatever order the repair and the event landed in
    assert view(sink) == bucket.view()


def test_the_watermark_never_passes_work_not_done() -> None:
    mark = Watermark("")
    mark.compared("a")
    mark.hold("b")
    mark.compared("b")
    mark.hold("c")
    mark.compared("c")
    mark.compared("d")
    assert mark.position == "a"  # b is pending
    mark.release("b", ok=True)
    assert mark.position == "b"  # c is pending
    mark.release("c", ok=False)
    assert mark.position == "b"  # c failed: a resume must see it again
    mark.compared("e")
    assert mark.position == "b"


def test_the_report_serialises_for_json() -> None:
    _, sink, listing, clock = setup(1)
    report = Reconciler(listing, [sink], options=Options(dry_run=True), clock=clock).run()
    data = json.loads(json.dumps(report.as_dict()))
    assert data["sinks"]["memory"]["missing"] == 1
    assert data["sinks"]["memory"]["first"] == {"missing": ["k0"], "stale": [], "phantom": []}
    assert data["drift"] == 1 and data["in_sync"] is False
