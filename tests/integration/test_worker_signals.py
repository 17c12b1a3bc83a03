"""``bucketsync worker`` as a real process: it stops cleanly on SIGTERM/SIGINT and loses nothing.

The console script runs in a subprocess against the session's moto server (environment from
``settings_for(emulator)`` plus the stack's table and queue). A stop signal asks the worker to
finish its in-flight batches and exit: status 0 and the ``received N, applied N, failed N``
summary on stderr, within 10 s (``BUCKETSYNC_WAIT_TIME_SECONDS=1`` bounds each long poll).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bucketsync.aws.clients import Clients
from bucketsync.compose import build_engine
from bucketsync.local.emulator import Emulator, settings_for
from bucketsync.local.stack import Stack, queue_counts
from bucketsync.reconcile import catalog_fingerprints, compare, list_bucket
from bucketsync.runtimes.worker import Worker
from bucketsync.settings import Settings
from bucketsync.sinks.catalog.reader import CatalogReader

EXIT_DEADLINE_SECONDS = 10.0
READY_DEADLINE_SECONDS = 30.0
SUMMARY = re.compile(r"received (\d+), applied (\d+), failed (\d+)")
READY = "polling "  # logged once the signal handlers are installed and polling starts


class WorkerProcess:
    """One ``bucketsync worker`` subprocess; stdout and stderr go to ``log``."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_until_ready(self) -> None:
        """Until the worker logs that it polls: before that, a signal would kill it outright."""
        deadline = time.monotonic() + READY_DEADLINE_SECONDS
        while READY not in self.output():
            assert self.process.poll() is None, f"worker exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"worker not polling:\n{self.output()}"
            time.sleep(0.05)

    def stop(self, signum: signal.Signals) -> tuple[int, float]:
        """Send ``signum``; return the exit status and the seconds it took to exit."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        try:
            status = self.process.wait(timeout=EXIT_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"worker still running {EXIT_DEADLINE_SECONDS}s after {signum.name}:\n"
                f"{self.output()}"
            )
        return status, time.monotonic() - sent

    def summary(self) -> tuple[int, int, int]:
        found = SUMMARY.findall(self.output())
        assert len(found) == 1, f"expected one summary line:\n{self.output()}"
        received, applied, failed = (int(n) for n in found[0])
        return received, applied, failed


def console_script() -> str:
    path = shutil.which("bucketsync", path=os.path.dirname(sys.executable))
    assert path is not None, f"no bucketsync console script next to {sys.executable}"
    return path


@pytest.fixture
def start_worker(
    emulator: Emulator, stack: Stack, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Starts ``bucketsync worker`` processes; any still running at teardown is killed."""
    started: list[WorkerProcess] = []

    def start(**extra: str) -> WorkerProcess:
        environment = dict(os.environ)  # the session's: fake credentials, no BUCKETSYNC_*
        environment.update(settings_for(emulator))
        environment.update(
            BUCKETSYNC_TABLE=stack.table,
            BUCKETSYNC_QUEUE_URL=stack.queue_url,
            BUCKETSYNC_WAIT_TIME_SECONDS="1",
            BUCKETSYNC_WORKER_THREADS="2",
            BUCKETSYNC_LOG_FORMAT="text",
            BUCKETSYNC_LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        environment.update(extra)
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [console_script(), "worker"],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=True,  # a Ctrl-C at the terminal reaches pytest only
            )
        worker = WorkerProcess(process, log)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait(timeout=EXIT_DEADLINE_SECONDS)


def reader(clients: Clients, stack: Stack) -> CatalogReader:
    return CatalogReader(clients.dynamodb, stack.table)


def wait_for_item(clients: Clients, stack: Stack, key: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while reader(clients, stack).get(stack.bucket, key) is None:
        assert time.monotonic() < deadline, f"{key!r} never reached the catalog"
        time.sleep(0.1)


def remove_test_event(clients: Clients, stack: Stack) -> None:
    (message,) = clients.sqs.receive_message(QueueUrl=stack.queue_url)["Messages"]
    assert '"s3:TestEvent"' in message["Body"], message
    clients.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert queue_counts(clients, stack.queue_url) == (0, 0)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_worker_process_stops_cleanly_on_a_stop_signal(
    signum: signal.Signals,
    start_worker: Callable[..., WorkerProcess],
    clients: Clients,
    stack: Stack,
) -> None:
    # GIVEN a `bucketsync worker` process that is demonstrably working: an upload reaches
    # the catalog through it
    worker = start_worker()
    worker.wait_until_ready()
    clients.s3.put_object(Bucket=stack.bucket, Key="signals/proof of life.txt", Body=b"alive")
    wait_for_item(clients, stack, "signals/proof of life.txt")
    # WHEN it is sent the stop signal
    status, took = worker.stop(signum)
    # THEN it finishes, exits 0 within the deadline, says why, and prints its summary: both
    # messages (the stack's s3:TestEvent and the upload's) received and applied
    assert status == 0, worker.output()
    assert took < EXIT_DEADLINE_SECONDS
    assert f"{signum.name} received: finishing in-flight batches" in worker.output()
    received, applied, failed = worker.summary()
    assert (received, applied, failed) == (2, 2, 0), worker.output()
    assert queue_counts(clients, stack.queue_url) == (0, 0)


def test_sigterm_during_the_default_long_poll_stops_within_two_seconds(
    start_worker: Callable[..., WorkerProcess], clients: Clients, stack: Stack
) -> None:
    # GIVEN a worker idle in SQS's 20-second long poll (its default), on an empty queue
    remove_test_event(clients, stack)
    worker = start_worker(BUCKETSYNC_WAIT_TIME_SECONDS="20")
    worker.wait_until_ready()
    time.sleep(1.0)  # well inside the long poll
    # WHEN it is sent SIGTERM
    status, took = worker.stop(signal.SIGTERM)
    # THEN it exits 0 within two seconds, not at the end of the poll
    assert status == 0, worker.output()
    assert took < 2.0, f"took {took:.1f} s to stop:\n{worker.output()}"


def test_messages_in_flight_at_sigterm_are_applied_or_redelivered(
    start_worker: Callable[..., WorkerProcess],
    settings: Settings,
    clients: Clients,
    stack: Stack,
) -> None:
    # GIVEN a polling worker process, an empty queue (the stack's s3:TestEvent taken off, so
    # only our uploads' messages are counted), and a short visibility timeout so that
    # anything received without being deleted would come back quickly
    remove_test_event(clients, stack)
    clients.sqs.set_queue_attributes(
        QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": "2"}
    )
    worker = start_worker()
    worker.wait_until_ready()
    keys = [f"in flight/{n} +é.txt" for n in range(5)]
    # WHEN objects are uploaded and SIGTERM follows at once (moto enqueues each notification
    # before PutObject returns, and a waiting long poll takes it immediately, so the last
    # batches are typically received, or even being applied, when the signal lands)
    for key in keys:
        clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=key.encode())
    status, _ = worker.stop(signal.SIGTERM)
    # THEN the worker exits 0 having failed nothing and left nothing in flight: what it
    # received it applied and deleted, so every key is in the catalog or still in the queue
    assert status == 0, worker.output()
    received, applied, failed = worker.summary()
    assert failed == 0 and applied == received, worker.output()
    visible, in_flight = queue_counts(clients, stack.queue_url)
    assert in_flight == 0, f"messages left in flight after a clean stop:\n{worker.output()}"
    catalogued = [k for k in keys if reader(clients, stack).get(stack.bucket, k) is not None]
    assert len(catalogued) + visible >= len(keys), (catalogued, visible, worker.output())
    # ... and what is still queued is applied by the next worker: nothing was lost
    Worker(
        build_engine(settings, clients), clients.sqs, stack.queue_url, wait_time_seconds=1
    ).drain()
    drift = compare(
        dict(list_bucket(clients.s3, stack.bucket)),
        catalog_fingerprints(reader(clients, stack).list(stack.bucket)),
    )
    assert drift.in_sync, drift
    assert sorted(dict(list_bucket(clients.s3, stack.bucket))) == sorted(keys)
