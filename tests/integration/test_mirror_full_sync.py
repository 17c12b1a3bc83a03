"""Full sync into the mirror against the moto server: everything into an empty directory, then
only what changed; what is gone removed and the user's own files left; nothing deleted after a
listing error, or for an object (re)created while the listing ran; the prefixes; the periodic
schedule."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from tests.integration.mirroring import created, fill, mirrored, put, seq

from bucketsync.aws.clients import Clients
from bucketsync.engine.update import Outcome
from bucketsync.reconcile.mirror import full_sync
from bucketsync.reconcile.periodic import PeriodicSync
from bucketsync.sinks.mirror import MirrorSink

# -- full sync ------------------------------------------------------------------------------


def test_full_sync_into_an_empty_directory_downloads_everything(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    objects = fill(clients, bucket, 40)
    put(clients, bucket, "folder/", b"")  # a console "folder": no file
    seen: list[tuple[int, int]] = []
    report = full_sync(sink, clients.s3, bucket, progress=lambda d, t: seen.append((d, t)))
    assert (report.listed, report.downloaded, report.failed) == (40, 40, 0)
    assert mirrored(root) == objects
    assert not report.deletes_refused
    assert seen[-1] == (40, 40)
    assert [d.operation for d in report.details] == ["download"] * 40


def test_full_sync_downloads_only_what_changed(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path, gets: list[str]
) -> None:
    objects = fill(clients, bucket, 100)
    full_sync(sink, clients.s3, bucket)
    gets.clear()
    before = sink.store.get("d0/sub/000.bin")
    # GIVEN 1% of the objects changed
    put(clients, bucket, "d1/sub/041.bin", b"changed")
    objects["d1/sub/041.bin"] = b"changed"
    # WHEN synced again THEN only that one is downloaded
    report = full_sync(sink, clients.s3, bucket)
    assert gets == ["d1/sub/041.bin"]
    assert (report.downloaded, report.skipped) == (1, 99)
    assert mirrored(root) == objects
    # the unchanged ones were compared in the march, never handed to the sink
    assert sink.store.get("d0/sub/000.bin") == before


def test_full_sync_removes_what_is_gone_and_leaves_user_files(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    objects = fill(clients, bucket, 12)
    full_sync(sink, clients.s3, bucket)
    (root / "d0/my notes.txt").write_bytes(b"mine")
    (root / "100%.txt").write_bytes(b"also mine")
    gone = ["d0/sub/000.bin", "d1/sub/005.bin", "d3/sub/011.bin"]
    clients.s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in gone]})
    report = full_sync(sink, clients.s3, bucket)
    assert report.deleted == 3
    assert report.untracked == 2
    expected = {k: v for k, v in objects.items() if k not in gone}
    expected |= {"d0/my notes.txt": b"mine", "100%.txt": b"also mine"}
    assert mirrored(root) == expected


def _fail_listing_page(clients: Clients, page: int) -> None:
    calls: list[int] = []

    def fail(**_: Any) -> None:
        calls.append(1)
        if len(calls) == page:
            raise ClientError(
                {"Error": {"Code": "InternalError", "Message": "injected"}}, "ListObjectsV2"
            )

    clients.s3.meta.events.register("before-call.s3.ListObjectsV2", fail)


def test_a_listing_error_deletes_nothing(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN a mirrored bucket in which two objects were deleted and one added
    fill(clients, bucket, 6)
    full_sync(sink, clients.s3, bucket)
    clients.s3.delete_object(Bucket=bucket, Key="d0/sub/000.bin")
    clients.s3.delete_object(Bucket=bucket, Key="d3/sub/003.bin")
    put(clients, bucket, "+new", b"new")  # sorts first: on the page that is listed
    # WHEN the listing's second page fails
    _fail_listing_page(clients, page=2)
    report = full_sync(sink, clients.s3, bucket, page_size=2)
    # THEN nothing is deleted, it says why, and what was listed is still downloaded
    assert report.deletes_refused
    assert report.deleted == 0
    assert any("injected" in error for error in report.errors)
    assert (root / "d0/sub/000.bin").exists()
    assert (root / "d3/sub/003.bin").exists()
    assert (root / "+new").read_bytes() == b"new"
    # AND the next clean run deletes them
    report = full_sync(sink, clients.s3, bucket, page_size=2)
    assert (report.deleted, report.deletes_refused) == (2, False)


def test_an_object_created_during_the_listing_is_not_deleted(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN an object that arrives (and whose event is applied) just after the listing
    fill(clients, bucket, 3)
    arrived: list[int] = []

    def arrive(**_: Any) -> None:
        if not arrived:
            arrived.append(1)
            put(clients, bucket, "zz-late", b"late")
            assert sink.apply([created(clients, bucket, "zz-late")]) == [Outcome.APPLIED]

    clients.s3.meta.events.register("after-call.s3.ListObjectsV2", arrive)
    # WHEN the full sync, whose listing did not see it, ends
    report = full_sync(sink, clients.s3, bucket)
    # THEN the file stays: no delete was even attempted
    assert arrived
    assert report.deleted == 0
    assert [d for d in report.details if d.operation == "delete"] == []
    assert (root / "zz-late").read_bytes() == b"late"


def test_an_object_recreated_during_the_listing_is_not_deleted(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN a mirrored object, deleted from the bucket (its event not yet seen) ...
    fill(clients, bucket, 3)
    put(clients, bucket, "back", b"old")
    full_sync(sink, clients.s3, bucket)
    clients.s3.delete_object(Bucket=bucket, Key="back")
    again: list[int] = []

    def recreate(**_: Any) -> None:
        # ... and re-created, with its event applied, once the listing (without it) is out
        if not again:
            again.append(1)
            put(clients, bucket, "back", b"new")
            assert sink.apply([created(clients, bucket, "back", seq(1))]) == [Outcome.APPLIED]

    clients.s3.meta.events.register("after-call.s3.ListObjectsV2", recreate)
    # WHEN the full sync ends
    report = full_sync(sink, clients.s3, bucket)
    # THEN its row, written after the listing began, is not taken for a deleted object
    assert again
    assert [d for d in report.details if d.operation == "delete"] == []
    assert (root / "back").read_bytes() == b"new"


def test_full_sync_honours_the_prefixes(clients: Clients, bucket: str, root: Path) -> None:
    fill(clients, bucket, 8)
    scoped = MirrorSink(clients.s3, root, prefix="d1/")
    try:
        report = full_sync(scoped, clients.s3, bucket)
        assert report.listed == 2
        assert sorted(mirrored(root)) == ["d1/sub/001.bin", "d1/sub/005.bin"]
        assert full_sync(scoped, clients.s3, bucket, prefix="d1/sub/00").listed == 2
    finally:
        scoped.close()


def test_periodic_sync_runs_and_stops_promptly(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    put(clients, bucket, "first", b"1")
    periodic = PeriodicSync(sink, clients.s3, bucket, interval=0.1, run_now=True)
    periodic.start()
    try:
        _wait_for((root / "first").exists)
        put(clients, bucket, "second", b"2")
        _wait_for((root / "second").exists)
        assert periodic.running
        assert periodic.last is not None
    finally:
        began = time.monotonic()
        periodic.stop()
        stopped_in = time.monotonic() - began
    assert stopped_in < 1.0
    assert not periodic.running
    # AND a schedule waiting out a long interval stops as promptly
    idle = PeriodicSync(sink, clients.s3, bucket, interval=3600)
    idle.start()
    began = time.monotonic()
    idle.stop()
    assert time.monotonic() - began < 1.0
    assert not idle.running


def test_a_failing_periodic_run_does_not_stop_the_schedule(
    clients: Clients, bucket: str, root: Path
) -> None:
    scoped = MirrorSink(clients.s3, root, prefix="a/")
    periodic = PeriodicSync(scoped, clients.s3, bucket, interval=0.05, prefix="b/", run_now=True)
    periodic.start()
    try:
        _wait_for(lambda: periodic.last_error is not None)
        time.sleep(0.15)  # several more failing runs
        assert periodic.running
    finally:
        periodic.stop()
        scoped.close()


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
