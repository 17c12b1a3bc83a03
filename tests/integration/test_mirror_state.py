"""The mirror's state store lost, replaced or damaged, against the moto server (issue 15, item 4).

The store is the only record of which files the mirror wrote: deleted under a running mirror
it must be put back before the next batch (or at close); lost while the mirror was stopped, or
corrupt, it is rebuilt from the directory and the bucket before any event is applied, adopting
the files that hold their objects and removing those whose objects are gone. Also: a delete in
a read-only mirror, and tombstones purged after their retention.
"""

from __future__ import annotations

import array
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from botocore.awsrequest import AWSPreparedRequest

from bucketsync.aws.clients import Clients
from bucketsync.aws.s3 import S3ObjectSource
from bucketsync.engine.pipeline import Engine
from bucketsync.engine.stamp import ObservationClock, sequencer_stamp
from bucketsync.engine.state import ABSENT
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import Fault, SinkWriteError, StoreCorruptError, fault_of
from bucketsync.events import Change, ChangeKind
from bucketsync.local.stack import StackNames
from bucketsync.reconcile.mirror import full_sync, rebuild
from bucketsync.sinks.mirror import MirrorSink, MirrorStore
from bucketsync.sinks.mirror.paths import STATE_DIR

CLOCK = ObservationClock()
MiB = 1024 * 1024
DAY = 86_400.0
STORE = f"{STATE_DIR}/state.sqlite"


@pytest.fixture
def bucket(clients: Clients, names: StackNames) -> Iterator[str]:
    clients.s3.create_bucket(Bucket=names.bucket)
    yield names.bucket
    for page in clients.s3.get_paginator("list_objects_v2").paginate(Bucket=names.bucket):
        if doomed := [{"Key": obj["Key"]} for obj in page.get("Contents", [])]:
            clients.s3.delete_objects(Bucket=names.bucket, Delete={"Objects": doomed})  # type: ignore[typeddict-item]
    clients.s3.delete_bucket(Bucket=names.bucket)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


class Sinks:
    """Mirror sinks over one root, as a process would start them one after the other: each
    handed reconcile's rebuild, as ``bucketsync.compose`` hands it, since these stores get lost."""

    def __init__(self, clients: Clients, root: Path) -> None:
        self.clients = clients
        self.root = root
        self.opened: list[MirrorSink] = []

    def start(self, **options: Any) -> MirrorSink:
        sink = MirrorSink(
            self.clients.s3, self.root, concurrency=4, backoff=0.01, rebuild=rebuild, **options
        )
        self.opened.append(sink)
        return sink


@pytest.fixture
def sinks(clients: Clients, root: Path) -> Iterator[Sinks]:
    made = Sinks(clients, root)
    yield made
    for sink in made.opened:
        sink.close()


@pytest.fixture
def gets(clients: Clients) -> list[str]:
    """The key of every GetObject request the client sends from now on."""
    keys: list[str] = []

    def seen(request: AWSPreparedRequest, **_: Any) -> None:
        keys.append(unquote(urlsplit(request.url).path).split("/", 2)[2])

    clients.s3.meta.events.register("before-send.s3.GetObject", seen)
    return keys


def seq(n: int) -> str:
    return sequencer_stamp(f"{n:016X}")


def put(clients: Clients, bucket: str, key: str, body: bytes) -> None:
    clients.s3.put_object(Bucket=bucket, Key=key, Body=body)


def put_in_parts(clients: Clients, bucket: str, key: str) -> bytes:
    """An object uploaded in two parts: its etag is no MD5 of its bytes."""
    s3 = clients.s3
    chunks = [os.urandom(5 * MiB), os.urandom(1024)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=chunk
            )["ETag"],
        }
        for n, chunk in enumerate(chunks, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload,
        MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
    )
    return b"".join(chunks)


def created(clients: Clients, bucket: str, key: str) -> Update:
    """The update the engine would make for ``key`` now (HeadObject's state)."""
    seen = CLOCK.stamp()
    return Update(bucket, key, S3ObjectSource(clients.s3).lookup(bucket, key), seen, (), seen)


def removed(bucket: str, key: str, stamp: str | None = None) -> Update:
    return Update(bucket, key, ABSENT, stamp or CLOCK.stamp(), ())


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


# -- a read-only mirror --------------------------------------------------------------------------

_GET_FLAGS, _SET_FLAGS, _IMMUTABLE = 0x80086601, 0x40086602, 0x10  # linux/fs.h


def _immutable(directory: Path, on: bool) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = array.array("l", [0])
        fcntl.ioctl(fd, _GET_FLAGS, flags)
        flags[0] = flags[0] | _IMMUTABLE if on else flags[0] & ~_IMMUTABLE
        fcntl.ioctl(fd, _SET_FLAGS, flags)
    finally:
        os.close(fd)


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """chmod 555; as root (whom modes do not stop) also the immutable attribute."""
    mode = directory.stat().st_mode
    directory.chmod(0o555)
    immutable = os.geteuid() == 0
    if immutable:
        try:
            _immutable(directory, True)
        except OSError as exc:
            directory.chmod(mode)
            pytest.skip(f"cannot make a directory read-only for root here: {exc}")
    try:
        yield
    finally:
        if immutable:
            _immutable(directory, False)
        directory.chmod(mode)


def test_a_delete_in_a_read_only_mirror_fails_with_one_line_and_no_traceback(
    clients: Clients, bucket: str, root: Path, sinks: Sinks, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a mirrored file in a directory that is read-only
    sink = sinks.start()
    put(clients, bucket, "docs/a.txt", b"a")
    assert sink.apply([created(clients, bucket, "docs/a.txt")]) == [Outcome.APPLIED]
    clients.s3.delete_object(Bucket=bucket, Key="docs/a.txt")
    caplog.set_level(logging.DEBUG)
    with read_only(root / "docs"):
        # WHEN its object's delete is applied
        [result] = sink.apply([removed(bucket, "docs/a.txt")])
        # THEN the update fails with a handled error: one line saying which file and why,
        # ours and lasting; no traceback logged; the file and its row stay, to be tried again
        assert isinstance(result, SinkWriteError), repr(result)
        assert "\n" not in str(result)
        assert str(result).startswith("cannot remove docs/a.txt (s3://")
        assert fault_of(result) is Fault.CONFIGURATION
        assert [r.getMessage() for r in caplog.records if r.exc_info] == []
        assert (root / "docs/a.txt").exists()
        entry = sink.store.get("docs/a.txt")
        assert entry is not None
        assert entry.on_disk
    # AND once the directory is writable again the delete goes through
    assert sink.apply([removed(bucket, "docs/a.txt")]) == [Outcome.APPLIED]
    assert not (root / "docs").exists()


# -- tombstones ----------------------------------------------------------------------------------


def test_tombstones_are_purged_after_their_retention_and_a_late_create_stays_out(
    clients: Clients, bucket: str, root: Path, sinks: Sinks
) -> None:
    # GIVEN a mirror whose store's clock the test moves, tombstones kept 30 days (the default)
    later = [0.0]
    store = MirrorStore(root / STORE, clock=lambda: time.time() + later[0])
    sink = sinks.start(store=store)
    put(clients, bucket, "k.txt", b"first")
    old = created(clients, bucket, "k.txt")
    assert sink.apply([Update(bucket, "k.txt", old.state, seq(1), (), old.seen)]) == [
        Outcome.APPLIED
    ]
    clients.s3.delete_object(Bucket=bucket, Key="k.txt")
    assert sink.apply([removed(bucket, "k.txt", seq(3))]) == [Outcome.APPLIED]
    assert store.stats()["tombstones"] == 1
    put(clients, bucket, "other.txt", b"other")
    # WHEN 29 days pass and a batch comes, THEN the tombstone is still kept
    later[0] = 29 * DAY
    assert sink.apply([created(clients, bucket, "other.txt")]) == [Outcome.APPLIED]
    assert store.stats()["tombstones"] == 1
    # WHEN 31 days have passed and a batch comes: a create older than the delete, arriving
    # now (no queue keeps a message that long: SQS 14 days at most)
    later[0] = 31 * DAY
    late = Update(bucket, "k.txt", old.state, seq(2), (), old.seen)
    # THEN the tombstone was purged before the batch, and the late create still cannot bring
    # the file back: its download is conditional on the etag of an object that is gone
    assert sink.apply([late]) == [Outcome.STALE]
    assert store.stats()["tombstones"] == 0
    assert not (root / "k.txt").exists()
    sink.close()
    store.close()
