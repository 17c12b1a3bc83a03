"""A sink that missed something recovers without a person (issue 15, item 3).

A worker with a mirror reconciles its sinks against the bucket every
``reconcile_interval_hours`` (at start, then on the interval), and once after a lasting fault
(configuration, read-only disk) clears. Missed events are made by purging the queue after the
uploads; the read-only disk is ``CappedDisk`` with EROFS in front of the mirror's writes.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.integration.test_worker_faults import (
    CappedDisk,
    Running,
    count_receives,
    quick,
    running,  # noqa: F401 - the fixture, used by name
    wait_until,
)

from bucketsync.aws.clients import Clients
from bucketsync.local.stack import Stack, queue_counts
from bucketsync.runtimes.build import build_worker
from bucketsync.runtimes.worker import Worker
from bucketsync.settings import Settings

ONE_SECOND_IN_HOURS = 1 / 3600


def missed(clients: Clients, stack: Stack, *keys: str) -> None:
    """Upload ``keys`` and lose their events (and the stack's s3:TestEvent)."""
    for key in keys:
        clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=key.encode())
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)
    assert queue_counts(clients, stack.queue_url) == (0, 0)


def test_a_worker_with_an_interval_repairs_missed_events_and_removed_files(
    settings: Settings,
    clients: Clients,
    stack: Stack,
    tmp_path: Path,
    running: Callable[[Worker], Running],  # noqa: F811 - the fixture
) -> None:
    # GIVEN two uploads whose events were lost, and a mirroring worker that reconciles every
    # second
    missed(clients, stack, "lost/a.txt", "lost/b.txt")
    mirror = tmp_path / "mirror"
    worker_settings = settings.override(
        mirror_dir=str(mirror),
        bucket=stack.bucket,
        reconcile_interval_hours=ONE_SECOND_IN_HOURS,
    )
    worker = build_worker(worker_settings, Clients(worker_settings), threads=1)
    # WHEN it runs
    run = running(worker)
    # THEN both files appear though no event named them...
    took = wait_until(
        lambda: (mirror / "lost/a.txt").is_file() and (mirror / "lost/b.txt").is_file(),
        15,
        "the missed objects mirrored",
    )
    print(f"missed objects mirrored after {took:.1f} s")
    # ... and a file removed from the mirror comes back at the next run
    (mirror / "lost/a.txt").unlink()
    took = wait_until((mirror / "lost/a.txt").is_file, 15, "the removed file back")
    print(f"removed file back after {took:.1f} s")
    assert (mirror / "lost/a.txt").read_bytes() == b"lost/a.txt"
    run.stop()


def test_a_worker_reconciles_once_after_a_lasting_fault_clears(
    settings: Settings,
    clients: Clients,
    stack: Stack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    running: Callable[[Worker], Running],  # noqa: F811 - the fixture
) -> None:
    # GIVEN an upload whose event was lost, a mirror that is read-only, no reconcile interval,
    # and a mirroring worker that is paused on a second upload
    missed(clients, stack, "lost/missed.txt")
    disk = CappedDisk(0, errno.EROFS)
    disk.install(monkeypatch)
    mirror = tmp_path / "mirror"
    worker_settings = settings.override(mirror_dir=str(mirror), bucket=stack.bucket)
    worker_clients = Clients(worker_settings)
    receives = count_receives(worker_clients)
    worker = quick(build_worker(worker_settings, worker_clients, threads=1))
    run = running(worker)
    clients.s3.put_object(Bucket=stack.bucket, Key="lost/held.txt", Body=b"held")
    wait_until(lambda: disk.failures > 0, 15, "a write refused")
    time.sleep(2)
    assert not (mirror / "lost/missed.txt").exists()
    # WHEN the disk becomes writable
    disk.grow()
    # THEN the held event lands, and so does the missed object: reconcile ran once
    took = wait_until(
        lambda: (mirror / "lost/held.txt").is_file() and (mirror / "lost/missed.txt").is_file(),
        20,
        "the held and the missed object mirrored",
    )
    print(f"held and missed objects mirrored {took:.1f} s after the fault cleared: {receives}")
    run.stop()
    assert max(receives.values()) == 1, receives
    assert queue_counts(clients, stack.dlq_url) == (0, 0)
