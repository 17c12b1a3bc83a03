"""What the mirror sink logs when an update fails with an error it did not raise on purpose.

A full or read-only disk (SQLite's "database or disk is full", ``ENOSPC``, a read-only store) is
classified by ``errors.fault_of`` as ours: one WARNING line naming the key and the error, no
traceback, since the host's condition is the whole story and a traceback per key would bury it.
Only what ``fault_of`` calls poison (a bug) keeps its traceback. Full disks against the emulator
and a real worker: ``tests/integration/test_worker_faults.py``.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from bucketsync.engine.stamp import ObservationClock
from bucketsync.engine.state import ABSENT
from bucketsync.engine.update import Update
from bucketsync.errors import Fault, fault_of
from bucketsync.sinks.mirror import MirrorSink

CLOCK = ObservationClock()
LOGGER = "bucketsync.sinks.mirror.sink"


def sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    """SQLite's error as its module raises it: the message, and the result code beside it."""
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    return error


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MirrorSink]:
    # A new root (no rebuild owed) and an S3 client that never reaches the network: the
    # deletes below touch only the store.
    s3: Any = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    made = MirrorSink(s3, tmp_path / "root", concurrency=2)
    yield made
    made.close()


def removed(key: str) -> Update:
    return Update("b", key, ABSENT, CLOCK.stamp(), ())


def failing_store(sink: MirrorSink, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    """Every tombstone the sink writes fails with ``error``, as the disk under it would."""

    def tombstone(*_: Any, **__: Any) -> None:
        raise error

    monkeypatch.setattr(sink.store, "tombstone", tombstone)


@pytest.mark.parametrize("batch", [1, 2], ids=["in the caller's thread", "on the pool"])
@pytest.mark.parametrize(
    "error",
    [
        sqlite_error("database or disk is full", 13),  # SQLITE_FULL
        OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
        sqlite_error("attempt to write a readonly database", 8),  # SQLITE_READONLY
    ],
    ids=["sqlite full", "ENOSPC", "sqlite read-only"],
)
def test_a_full_or_read_only_disk_is_one_warning_line_per_key_without_a_traceback(
    sink: MirrorSink,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    batch: int,
) -> None:
    # GIVEN a store whose disk is full or read-only (an error fault_of calls ours)
    assert fault_of(error) in (Fault.TRANSIENT, Fault.CONFIGURATION)
    failing_store(sink, monkeypatch, error)
    keys = [f"k{n}.txt" for n in range(batch)]
    # WHEN a batch of deletes comes
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        results = sink.apply([removed(key) for key in keys])
    # THEN each update fails with the disk's error
    assert results == [error] * batch
    # AND each key is one WARNING line naming the key and the error, with no traceback
    records = [r for r in caplog.records if r.name == LOGGER]
    assert sorted(r.getMessage() for r in records) == [
        f"mirror: s3://b/{key} not applied: {type(error).__name__}: {error}" for key in keys
    ]
    assert [(r.levelno, r.exc_info) for r in records] == [(logging.WARNING, None)] * batch


def test_a_bug_is_logged_with_its_traceback(
    sink: MirrorSink, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a store that fails with what no disk raises: a bug (fault_of: poison)
    bug = KeyError("stamp")
    assert fault_of(bug) is Fault.POISON
    failing_store(sink, monkeypatch, bug)
    # WHEN an update comes
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        [result] = sink.apply([removed("k.txt")])
    # THEN it fails, logged as unexpected at ERROR with the traceback, naming the key
    assert result is bug
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "mirror: unexpected KeyError for s3://b/k.txt"
    assert record.exc_info is not None and record.exc_info[1] is bug
