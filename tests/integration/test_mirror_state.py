"""The mirror's state store lost, replaced or damaged, against the moto server (issue 15, item 4).

The store is the only record of which files the mirror wrote: deleted under a running mirror
it must be put back before the next batch (or at close); lost while the mirror was stopped, or
corrupt, it is rebuilt from the directory and the bucket before any event is applied, adopting
the files that hold their objects and removing those whose objects are gone. A delete in a
read-only mirror, and tombstones purged after their retention: ``test_mirror_deletes.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.integration.mirroring import STORE, Sinks, created, put, put_in_parts, removed

from bucketsync.aws.clients import Clients
from bucketsync.aws.s3 import S3ObjectSource
from bucketsync.engine.pipeline import Engine
from bucketsync.engine.update import Outcome
from bucketsync.errors import Fault, StoreCorruptError, fault_of
from bucketsync.events import Change, ChangeKind
from bucketsync.reconcile.mirror import full_sync
from bucketsync.sinks.mirror import MirrorSink, MirrorStore
from bucketsync.sinks.mirror.paths import STATE_DIR


def event(bucket: str, key: str, kind: ChangeKind, sequencer: int) -> Change:
    name = "ObjectCreated:Put" if kind is ChangeKind.CREATED else "ObjectRemoved:Delete"
    return Change(bucket, key, kind, name, sequencer=f"{sequencer:016X}")


def delete_store(root: Path) -> None:
    """``rm <root>/.bucketsync/state.sqlite*``"""
    for path in (root / STATE_DIR).glob("state.sqlite*"):
        path.unlink()


def corrupt_store(root: Path) -> None:
    """Garbage written over the store's file, in place (its first pages included)."""
    with (root / STORE).open("r+b") as raw:
        raw.write(b"this is not a database " * 1000)


def set_aside(root: Path, why: str) -> list[str]:
    """The stores set aside as ``why`` (their -wal and -shm beside them left out)."""
    found = (root / STATE_DIR).glob(f"state.sqlite.{why}-*")
    return sorted(p.name for p in found if not p.name.endswith(("-wal", "-shm")))


def mirror_three(clients: Clients, bucket: str, sink: MirrorSink) -> None:
    for key in ("a.txt", "b.txt", "c.txt"):
        put(clients, bucket, key, f"content of {key}".encode())
    updates = [created(clients, bucket, key) for key in ("a.txt", "b.txt", "c.txt")]
    assert sink.apply(updates) == [Outcome.APPLIED] * 3


# -- deleted under a running mirror -------------------------------------------------------------


@pytest.mark.parametrize("noticed", ["at the next batch", "at close"])
def test_a_store_deleted_under_a_running_mirror_is_put_back(
    clients: Clients, bucket: str, root: Path, sinks: Sinks, noticed: str
) -> None:
    # GIVEN a running mirror of three objects
    sink = sinks.start()
    mirror_three(clients, bucket, sink)
    # WHEN its state store is deleted under it
    delete_store(root)
    if noticed == "at the next batch":
        put(clients, bucket, "d.txt", b"d")
        assert sink.apply([created(clients, bucket, "d.txt")]) == [Outcome.APPLIED]
        # THEN before that batch the store was put back at its path, nothing lost
        assert (root / STORE).is_file()
        with MirrorStore(root / STORE) as back:
            assert back.stats()["files"] == 4
    sink.close()
    assert (root / STORE).is_file()
    # AND after a restart, a delete event still removes the file the mirror wrote
    again = sinks.start()
    assert again.store.rebuild_reason == ""
    clients.s3.delete_object(Bucket=bucket, Key="a.txt")
    assert again.apply([removed(bucket, "a.txt")]) == [Outcome.APPLIED]
    assert not (root / "a.txt").exists()
    # AND a full sync finds everything in place, and no file it did not write
    report = full_sync(again, clients.s3, bucket)
    assert (report.downloaded, report.deleted, report.failed, report.untracked) == (0, 0, 0, 0)


def test_a_store_replaced_under_a_running_mirror_is_put_back_and_the_other_kept(
    clients: Clients, bucket: str, root: Path, sinks: Sinks
) -> None:
    # GIVEN a running mirror, and another (empty) store renamed over its store
    sink = sinks.start()
    mirror_three(clients, bucket, sink)
    other = root / STATE_DIR / "other.sqlite"
    MirrorStore(other).close()
    os.replace(other, root / STORE)
    # WHEN the next batch comes
    clients.s3.delete_object(Bucket=bucket, Key="b.txt")
    assert sink.apply([removed(bucket, "b.txt")]) == [Outcome.APPLIED]
    # THEN the mirror's own store is back at its path (the file removed by the row it knew),
    # the other kept aside
    assert not (root / "b.txt").exists()
    with MirrorStore(root / STORE) as back:
        assert back.stats()["files"] == 2
    assert len(set_aside(root, "replaced")) == 1


# -- lost or damaged while the mirror was stopped ------------------------------------------------


@pytest.mark.parametrize("damage", ["deleted", "corrupted"])
def test_a_store_lost_while_stopped_is_rebuilt_before_the_first_batch(
    clients: Clients, bucket: str, sinks: Sinks, gets: list[str], damage: str
) -> None:
    root = sinks.root
    # GIVEN a mirror of a single-part object, a multipart one, and one whose object goes
    put(clients, bucket, "keep.txt", b"kept")
    parts = put_in_parts(clients, bucket, "parts.bin")
    put(clients, bucket, "gone.txt", b"gone soon")
    sink = sinks.start()
    keys = ["keep.txt", "parts.bin", "gone.txt"]
    assert sink.apply([created(clients, bucket, k) for k in keys]) == [Outcome.APPLIED] * 3
    sink.close()
    # AND while it is stopped its store is lost, and an object deleted (its event lost too)
    delete_store(root) if damage == "deleted" else corrupt_store(root)
    clients.s3.delete_object(Bucket=bucket, Key="gone.txt")
    put(clients, bucket, "new.txt", b"new")
    gets.clear()
    # WHEN it starts again and takes its first batch
    again = sinks.start()
    engine = Engine(S3ObjectSource(clients.s3), [again])
    report = engine.process_changes([event(bucket, "new.txt", ChangeKind.CREATED, 1)])
    # THEN the store was rebuilt first: the mirror's file of the object that went, removed;
    # the files that hold their objects adopted, not downloaded again
    assert report.failures == {}
    assert not (root / "gone.txt").exists()
    assert gets == ["new.txt"]
    assert again.counters()["adopted"] == 2
    assert (root / "parts.bin").read_bytes() == parts
    assert again.store.rebuild_reason == ""
    # AND a damaged store was set aside, not deleted
    assert len(set_aside(root, "corrupt")) == (1 if damage == "corrupted" else 0)
    # AND a later delete event removes an adopted file
    clients.s3.delete_object(Bucket=bucket, Key="keep.txt")
    report = engine.process_changes([event(bucket, "keep.txt", ChangeKind.REMOVED, 2)])
    assert report.failures == {}
    assert not (root / "keep.txt").exists()
    # AND a full sync has nothing left to do, and no file it did not write
    sync = full_sync(again, clients.s3, bucket)
    assert (sync.downloaded, sync.deleted, sync.failed, sync.untracked) == (0, 0, 0, 0)


def test_only_a_file_that_holds_its_object_is_adopted(
    clients: Clients, bucket: str, root: Path, sinks: Sinks, gets: list[str]
) -> None:
    # GIVEN a directory (no store) holding: a file with an object's bytes; one of another
    # object's size but other bytes; a copy of a multipart object with another time; a
    # user's own file
    put(clients, bucket, "same.txt", b"same bytes")
    put(clients, bucket, "other.txt", b"other byte")
    parts = put_in_parts(clients, bucket, "parts.bin")
    root.mkdir()
    (root / "same.txt").write_bytes(b"same bytes")
    (root / "other.txt").write_bytes(b"OTHER BYTE")
    (root / "parts.bin").write_bytes(parts)
    (root / "mine.txt").write_bytes(b"a user's")
    # WHEN the mirror starts there and syncs
    sink = sinks.start()
    report = full_sync(sink, clients.s3, bucket)
    # THEN only the file whose MD5 is its etag is taken as it is; the others are downloaded
    assert sorted(gets) == ["other.txt", "parts.bin"]
    assert (report.adopted, report.downloaded, report.untracked) == (1, 2, 1)
    assert (root / "other.txt").read_bytes() == b"other byte"
    assert (root / "mine.txt").read_bytes() == b"a user's"
    assert sink.store.rebuild_reason == ""


# -- corrupted under a running mirror ------------------------------------------------------------


def test_a_corrupt_store_fails_the_batch_as_ours_and_is_rebuilt_before_the_next(
    clients: Clients, bucket: str, root: Path, sinks: Sinks, gets: list[str]
) -> None:
    # GIVEN a running mirror of three objects, one of which goes while its event is lost
    sink = sinks.start()
    engine = Engine(S3ObjectSource(clients.s3), [sink])
    mirror_three(clients, bucket, sink)
    clients.s3.delete_object(Bucket=bucket, Key="c.txt")
    put(clients, bucket, "d.txt", b"d")
    gets.clear()
    # WHEN garbage is written over its store and a batch comes
    corrupt_store(root)
    change = event(bucket, "d.txt", ChangeKind.CREATED, 1)
    report = engine.process_changes([change])
    # THEN the batch fails with an error of ours, lasting (the worker keeps the message and
    # pauses: no retry spent, no DLQ), and nothing was written
    assert "event" in report.failures, f"the batch went through: {report.outcomes}"
    error = report.failures["event"]
    assert isinstance(error, StoreCorruptError)
    assert fault_of(error) is Fault.CONFIGURATION
    assert not (root / "d.txt").exists()
    assert gets == []
    assert len(set_aside(root, "corrupt")) == 1
    # WHEN the same message is tried again
    report = engine.process_changes([change])
    # THEN the store was rebuilt first (files adopted, the gone object's removed), then applied
    assert report.failures == {}
    assert gets == ["d.txt"]
    assert sink.counters()["adopted"] == 2
    assert not (root / "c.txt").exists()
    # AND a later delete event removes an adopted file; a full sync has nothing to do
    clients.s3.delete_object(Bucket=bucket, Key="a.txt")
    report = engine.process_changes([event(bucket, "a.txt", ChangeKind.REMOVED, 2)])
    assert report.failures == {}
    assert not (root / "a.txt").exists()
    sync = full_sync(sink, clients.s3, bucket)
    assert (sync.downloaded, sync.deleted, sync.failed, sync.untracked) == (0, 0, 0, 0)
