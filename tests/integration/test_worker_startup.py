"""A worker that cannot start yet for a fault of ours: it waits, takes no message, and starts
when the fault clears (issue 15; found by the chaos suite's full run).

The mirror's disk is a real tmpfs filled to the last page (``tests.chaos.disk``), so SQLite
meets ENOSPC where it really does: creating its state store, before the first message.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.chaos.disk import SmallDisk
from tests.integration.test_worker_signals import WorkerProcess, start_worker

from bucketsync.aws.clients import Clients
from bucketsync.local.stack import Stack, queue_counts

__all__ = ["start_worker"]  # the fixture, imported to be found here


def test_a_worker_whose_mirror_disk_is_full_waits_to_start_and_takes_no_message(
    clients: Clients,
    stack: Stack,
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    with SmallDisk(tmp_path / "disk", 2) as disk:
        if not disk.mounted:
            pytest.skip(f"no tmpfs for a disk that really fills: {disk.why_not}")
        # GIVEN 3 uploads queued, and a mirror whose disk is full before the worker starts
        clients.sqs.purge_queue(QueueUrl=stack.queue_url)
        keys = [f"start/{n}.txt" for n in range(3)]
        for key in keys:
            clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=b"x" * 100)
        deadline = time.monotonic() + 10
        while queue_counts(clients, stack.queue_url)[0] < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        disk.fill()
        # WHEN the worker starts on it
        worker = start_worker(LOCAL_DOWNLOAD_DIR=str(disk.mirror_dir))
        time.sleep(4)
        # THEN it is still running, says why it waits, and has taken no message
        output = worker.output()
        assert worker.process.poll() is None, f"the worker exited:\n{output}"
        assert "disk is full" in output, output
        assert "Traceback" not in output, output
        assert queue_counts(clients, stack.queue_url) == (3, 0), output
        # ... and once space is freed it starts, and mirrors what was queued
        disk.ballast.unlink()
        deadline = time.monotonic() + 30
        while not all((disk.mirror_dir / key).is_file() for key in keys):
            assert time.monotonic() < deadline, f"not mirrored 30 s after:\n{worker.output()}"
            assert worker.process.poll() is None, f"the worker exited:\n{worker.output()}"
            time.sleep(0.2)
        status, _ = worker.stop(signal.SIGTERM)
        print(worker.output()[-1500:])
        assert status == 0, worker.output()
