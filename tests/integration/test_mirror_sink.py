"""The mirror sink against the moto server, over HTTP, one update at a time: puts, overwrites
and deletes, older, duplicate and late updates, skip-existing, the size limit; one bad key among
good ones, and applies from several threads at once.

Each test has a bucket of its own and mirrors it under ``tmp_path / "root"``; everything else
under ``tmp_path`` is "outside", where nothing may ever appear. The fixtures are in the
integration conftest, the helpers in ``mirroring.py``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from tests.integration.mirroring import (
    CLOCK,
    MiB,
    created,
    fill,
    mirrored,
    put,
    removed,
    seq,
    temp_files,
)

from bucketsync.aws.clients import Clients
from bucketsync.aws.s3 import S3ObjectSource
from bucketsync.engine.pipeline import Engine
from bucketsync.engine.state import ObjectState
from bucketsync.engine.update import Outcome, Update
from bucketsync.events import Change, ChangeKind
from bucketsync.reconcile.mirror import full_sync
from bucketsync.sinks.mirror import MirrorSink
from bucketsync.sinks.mirror.paths import STATE_DIR

# -- the sink, one update at a time -----------------------------------------------------------


def test_a_put_is_mirrored_with_its_content(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN an object in the bucket
    put(clients, bucket, "docs/read me.txt", b"hello, mirror\n")
    update = created(clients, bucket, "docs/read me.txt")
    # WHEN its update is applied
    assert sink.apply([update]) == [Outcome.APPLIED]
    # THEN the file holds the object, with the object's time, and the store knows it
    path = root / "docs/read me.txt"
    assert path.read_bytes() == b"hello, mirror\n"
    assert update.state.last_modified is not None
    assert path.stat().st_mtime == pytest.approx(update.state.last_modified.timestamp(), abs=1)
    entry = sink.store.get("docs/read me.txt")
    assert entry is not None
    assert (entry.path, entry.size, entry.etag, entry.stamp) == (
        "docs/read me.txt",
        14,
        update.state.etag,
        update.stamp,
    )
    assert temp_files(root) == []
    assert sink.counters()["downloaded"] == 1
    assert sink.counters()["bytes"] == 14


def test_an_overwrite_replaces_the_file(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    put(clients, bucket, "k.txt", b"first version, longer")
    sink.apply([created(clients, bucket, "k.txt")])
    put(clients, bucket, "k.txt", b"second")
    assert sink.apply([created(clients, bucket, "k.txt")]) == [Outcome.APPLIED]
    assert (root / "k.txt").read_bytes() == b"second"


def test_a_delete_removes_the_file_and_prunes_empty_directories(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN two mirrored files sharing the directory a/
    for key in ("a/b/c/d.txt", "a/keep.txt"):
        put(clients, bucket, key, b"x")
        sink.apply([created(clients, bucket, key)])
    # WHEN the deep one is deleted
    clients.s3.delete_object(Bucket=bucket, Key="a/b/c/d.txt")
    assert sink.apply([removed(bucket, "a/b/c/d.txt")]) == [Outcome.APPLIED]
    # THEN its file and the directories it leaves empty are gone, the rest stays
    assert not (root / "a/b").exists()
    assert (root / "a/keep.txt").read_bytes() == b"x"
    entry = sink.store.get("a/b/c/d.txt")
    assert entry is not None
    assert not entry.present
    # AND deleting again, or a file already removed by hand, is fine
    assert sink.apply([removed(bucket, "a/b/c/d.txt")]) == [Outcome.APPLIED]
    (root / "a/keep.txt").unlink()
    assert sink.apply([removed(bucket, "a/keep.txt")]) == [Outcome.APPLIED]
    assert sorted(p.name for p in root.iterdir()) == [STATE_DIR]


def test_older_and_duplicate_updates_never_replace_a_newer_file(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path, gets: list[str]
) -> None:
    # GIVEN a versioned bucket and updates naming versions by id (no IfMatch to save us)
    clients.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    versions = []
    for body in (b"version one", b"version two"):
        answer = clients.s3.put_object(Bucket=bucket, Key="v.txt", Body=body)
        versions.append(answer["VersionId"])
    older, newer = (
        Update(bucket, "v.txt", ObjectState(present=True, version_id=v), seq(n), ())
        for n, v in enumerate(versions, start=1)
    )
    # WHEN the newer arrives first, then itself again, then the older
    assert sink.apply([newer]) == [Outcome.APPLIED]
    assert sink.apply([newer, older]) == [Outcome.STALE, Outcome.STALE]
    # THEN the file keeps the newer content, and the stale ones cost no download
    assert (root / "v.txt").read_bytes() == b"version two"
    assert gets == ["v.txt"]
    assert sink.counters()["stale"] == 2


def test_one_batch_in_any_order_ends_on_the_newest(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    clients.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    updates = []
    for n in range(1, 6):
        answer = clients.s3.put_object(Bucket=bucket, Key="k", Body=f"v{n}".encode())
        state = ObjectState(present=True, version_id=answer["VersionId"])
        updates.append(Update(bucket, "k", state, seq(n), ()))
    results = sink.apply([*reversed(updates), *updates])
    assert results.count(Outcome.APPLIED) >= 1
    assert set(results) <= {Outcome.APPLIED, Outcome.STALE}
    assert (root / "k").read_bytes() == b"v5"


def test_a_late_create_after_a_delete_is_stale(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path, gets: list[str]
) -> None:
    put(clients, bucket, "k", b"short-lived")
    create = created(clients, bucket, "k", seq(1))
    clients.s3.delete_object(Bucket=bucket, Key="k")
    assert sink.apply([removed(bucket, "k", seq(2))]) == [Outcome.APPLIED]
    assert sink.apply([create]) == [Outcome.STALE]
    assert not (root / "k").exists()
    assert gets == []


def test_an_event_delete_over_a_full_sync_row_is_confirmed_first(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN a file a full sync wrote (observation stamp) and still in the bucket
    put(clients, bucket, "k", b"still here")
    full_sync(sink, clients.s3, bucket)
    # WHEN a late delete event (sequencer stamp, not comparable) arrives
    # THEN the sink asks for it to be confirmed, touching nothing
    assert sink.apply([removed(bucket, "k", seq(1))]) == [Outcome.CONFIRM]
    assert (root / "k").exists()
    # AND through the engine, HeadObject finds the object: what it observes is what the
    # mirror holds (skipped, nothing downloaded), and the file stays
    engine = Engine(S3ObjectSource(clients.s3), [sink])
    delete = Change(bucket, "k", ChangeKind.REMOVED, "ObjectRemoved:Delete", sequencer="01")
    assert engine.process_changes([delete]).outcomes == {"mirror": {"skipped": 1}}
    assert (root / "k").read_bytes() == b"still here"
    # AND the object's real delete, a later event, applies
    clients.s3.delete_object(Bucket=bucket, Key="k")
    real = Change(bucket, "k", ChangeKind.REMOVED, "ObjectRemoved:Delete", sequencer="02")
    assert engine.process_changes([real]).outcomes == {"mirror": {"applied": 1}}
    assert not (root / "k").exists()


def test_an_observation_older_than_the_file_does_not_delete_it(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN an observation begun (a listing that did not see the key) ...
    began = CLOCK.stamp()
    # ... and then an event that wrote the key
    put(clients, bucket, "k", b"new")
    assert sink.apply([created(clients, bucket, "k", seq(7))]) == [Outcome.APPLIED]
    # WHEN the observation's delete lands
    # THEN it is older than the file: stale
    assert sink.apply([removed(bucket, "k", began)]) == [Outcome.STALE]
    assert (root / "k").read_bytes() == b"new"


def test_skip_existing_records_the_stamp_without_a_download(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path, gets: list[str]
) -> None:
    put(clients, bucket, "same.txt", b"unchanged")
    sink.apply([created(clients, bucket, "same.txt")])
    again = created(clients, bucket, "same.txt")
    assert sink.apply([again]) == [Outcome.SKIPPED]
    assert gets == ["same.txt"]
    entry = sink.store.get("same.txt")
    assert entry is not None
    assert entry.stamp == again.stamp
    # a file removed by hand is not "existing": it comes back
    (root / "same.txt").unlink()
    assert sink.apply([created(clients, bucket, "same.txt")]) == [Outcome.APPLIED]
    assert gets == ["same.txt", "same.txt"]


def test_without_skip_existing_every_update_downloads(
    clients: Clients, bucket: str, root: Path, gets: list[str]
) -> None:
    put(clients, bucket, "same.txt", b"unchanged")
    with_downloads = MirrorSink(clients.s3, root, skip_existing=False)
    try:
        for _ in range(2):
            assert with_downloads.apply([created(clients, bucket, "same.txt")]) == [Outcome.APPLIED]
    finally:
        with_downloads.close()
    assert gets == ["same.txt", "same.txt"]


def test_objects_over_the_limit_are_skipped_with_a_logged_reason(
    clients: Clients, bucket: str, root: Path, caplog: pytest.LogCaptureFixture, gets: list[str]
) -> None:
    limited = MirrorSink(clients.s3, root, max_file_bytes=MiB)
    put(clients, bucket, "big.bin", b"x" * (MiB + 1))
    put(clients, bucket, "small.bin", b"x" * MiB)
    head_said = created(clients, bucket, "big.bin")
    # an update that does not know the size: GetObject's length decides
    lean = Update(bucket, "big.bin", ObjectState(present=True), CLOCK.stamp(), ())
    try:
        with caplog.at_level(logging.WARNING, logger="bucketsync.sinks.mirror"):
            results = limited.apply([head_said, created(clients, bucket, "small.bin")])
            assert gets == ["small.bin"]  # HeadObject's size was enough to skip it
            assert limited.apply([lean]) == [Outcome.SKIPPED]
        entry = limited.store.get("big.bin")
        stats = limited.store.stats()
    finally:
        limited.close()
    assert results == [Outcome.SKIPPED, Outcome.APPLIED]
    assert not (root / "big.bin").exists()
    assert (root / "small.bin").stat().st_size == MiB
    assert "big.bin" in caplog.text
    assert "1.0 MB is over the 1.0 MB limit" in caplog.text
    assert entry is not None
    assert (entry.status, entry.present, entry.size) == ("too_large", True, MiB + 1)
    assert (stats["too_large"], stats["files"]) == (1, 1)


def test_one_bad_key_never_fails_its_neighbours(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    put(clients, bucket, "ok-1", b"1")
    put(clients, bucket, "ok-2", b"2")
    results = sink.apply(
        [
            created(clients, bucket, "ok-1"),
            Update(bucket, "x" * 300, ObjectState(present=True, size=1), CLOCK.stamp(), ()),
            Update(bucket, "never-there", ObjectState(present=True, etag="0" * 32), "O1", ()),
            Update(bucket, "folder/", ObjectState(present=True, size=0), CLOCK.stamp(), ()),
            created(clients, bucket, "ok-2"),
        ]
    )
    assert results == [
        Outcome.APPLIED,
        Outcome.REJECTED,
        Outcome.STALE,  # 404: that state is gone, a newer one's update follows
        Outcome.SKIPPED,  # a folder placeholder is not a file
        Outcome.APPLIED,
    ]
    assert mirrored(root) == {"ok-1": b"1", "ok-2": b"2"}


def test_concurrent_applies_of_many_keys(clients: Clients, bucket: str, sink: MirrorSink) -> None:
    objects = fill(clients, bucket, 24)
    updates = [created(clients, bucket, key) for key in objects]
    results: list[list[Outcome | BaseException]] = []
    threads = [
        threading.Thread(target=lambda: results.append(sink.apply(updates))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [r for batch in results for r in batch]
    # each key is written once; the same stamp twice more is a duplicate
    assert (flat.count(Outcome.APPLIED), flat.count(Outcome.STALE)) == (24, 48)
    assert mirrored(sink.root) == objects
