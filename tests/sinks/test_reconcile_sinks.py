"""Reconcile against every sink on the emulator: each drift class is found and repaired.

The same harness as the conformance suite; the bucket side is a real ListObjectsV2.
"""

from __future__ import annotations

from typing import Any

from bucketsync.engine.stamp import ObservationClock
from bucketsync.reconcile.listing import S3Listing
from bucketsync.reconcile.run import Options, Reconciler
from tests.sinks.conftest import Harness, seq


def bucket_view(harness: Harness) -> list[tuple[str, Any]]:
    listing = S3Listing(harness.clients.s3, harness.bucket).range("", None)
    return [(listed.key, listed.etag) for listed in listing]


def sink_view(harness: Harness) -> list[tuple[str, Any]]:
    return [(key, etag) for key, present, _, etag in harness.listing() if present]


def reconcile(harness: Harness, **options: Any) -> Any:
    clock = ObservationClock()
    source = S3Listing(harness.clients.s3, harness.bucket, clock=clock, page_size=3)
    return Reconciler(source, [harness.sink], options=Options(**options), clock=clock).run()


def test_each_drift_class_is_repaired(harness: Harness) -> None:
    # GIVEN a sink that saw some events and missed others:
    for key in ("equal-1.jsonl", "equal-2.jsonl", "stale.jsonl", "phantom.jsonl"):
        assert harness.sink.apply([harness.created(key, seq(1))])
    harness.put("stale.jsonl", version=2)  # overwritten, its event lost
    harness.clients.s3.delete_object(Bucket=harness.bucket, Key="phantom.jsonl")  # deleted
    for n in range(5):
        harness.put(f"missing-{n}.jsonl")  # created, their events lost
    # WHEN a dry run looks
    dry = reconcile(harness, dry_run=True)
    drift = dry.sinks[harness.kind]
    # THEN it names each class, and changes nothing
    assert (drift.equal, drift.missing, drift.stale, drift.phantom) == (2, 5, 1, 1)
    assert drift.first["stale"] == ["stale.jsonl"]
    assert drift.first["phantom"] == ["phantom.jsonl"]
    assert dry.exit_code() == 1
    assert sink_view(harness) != bucket_view(harness)
    # WHEN reconcile runs
    report = reconcile(harness)
    # THEN the sink equals the bucket, and a second run finds it so
    assert report.sinks[harness.kind].repaired == 7, report.errors
    assert report.exit_code() == 0
    assert sink_view(harness) == bucket_view(harness)
    again = reconcile(harness)
    assert again.drift == 0 and again.sinks[harness.kind].equal == 8


def test_a_sink_filled_by_nothing_is_backfilled(harness: Harness) -> None:
    for n in range(12):
        harness.put(f"dir {n % 3}/object-{n:02d}.jsonl")
    report = reconcile(harness, workers=4)
    assert report.sinks[harness.kind].missing == 12
    assert sink_view(harness) == bucket_view(harness)
