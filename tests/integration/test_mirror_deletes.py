"""Deletes in the mirror, against the moto server: one in a read-only mirror fails with one
line and no traceback, and goes through once the directory is writable again; the tombstones
deletes leave are purged after their retention, and a late create still cannot bring the file
back."""

from __future__ import annotations

import array
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.integration.mirroring import STORE, Sinks, created, put, removed, seq

from bucketsync.aws.clients import Clients
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import Fault, SinkWriteError, fault_of
from bucketsync.sinks.mirror import MirrorStore

DAY = 86_400.0

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
