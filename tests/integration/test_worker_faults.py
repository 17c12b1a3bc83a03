"""A fault that is ours, not the message's, consumes no message (issue 15, item 1).

A missing table, a full or read-only mirror disk: the worker keeps the messages it holds
invisible and retries them itself with backoff, receives nothing more meanwhile, says why in
one line, and applies them once the fault clears; ``--drain`` stops instead, with exit status 78.
The Lambda handler cannot wait, so it fails such a batch whole and hands the wait to SQS: the
messages' visibility grows with their receive count.

Receives are counted by a botocore ``after-call`` hook on the worker's own SQS client; the
disk is a byte budget put in front of the mirror's real write path (``CappedDisk``). The
workers here have one thread: moto's ReceiveMessage is not atomic, and two concurrent long
polls can both be handed one message, which would read as a redelivery.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from tests.integration.test_worker_signals import console_script

from bucketsync.aws.clients import Clients
from bucketsync.local.emulator import Emulator, settings_for
from bucketsync.local.stack import Stack, ensure_stack, queue_counts
from bucketsync.reconcile import catalog_fingerprints, compare, list_bucket
from bucketsync.runtimes.build import build_worker
from bucketsync.runtimes.lambda_handler import LambdaApp
from bucketsync.runtimes.worker import Worker
from bucketsync.settings import Settings
from bucketsync.sinks.catalog.reader import CatalogReader
from bucketsync.sinks.mirror import download
from bucketsync.sinks.tables import table_definition

MIB = 1 << 20


# -- test doubles ----------------------------------------------------------------------------


def count_receives(clients: Clients) -> Counter[str]:
    """Every message id the client receives, counted, as the worker's requests return."""
    seen: Counter[str] = Counter()

    def after_receive(parsed: dict[str, Any], **_: Any) -> None:
        for message in parsed.get("Messages", []):
            seen[message["MessageId"]] += 1

    clients.sqs.meta.events.register("after-call.sqs.ReceiveMessage", after_receive)
    return seen


class CappedDisk:
    """A disk of ``free`` bytes in front of the mirror's writes: a chunk that does not fit
    raises ``OSError(code)`` (ENOSPC: full; EROFS: read-only) inside the mirror's own copy loop,
    so its own error mapping runs. A failed file's bytes are given back, as removing its
    temporary file would. ``grow()`` clears the fault."""

    def __init__(self, free: int, code: int = errno.ENOSPC) -> None:
        self.free = free
        self.code = code
        self.failures = 0
        self._lock = threading.Lock()

    def grow(self) -> None:
        with self._lock:
            self.free = 1 << 62

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = download._stream
        disk = self

        class Metered:
            """The object's body, each chunk charged to the disk before the copy writes it."""

            def __init__(self, body: Any) -> None:
                self._body = body
                self.charged = 0

            def read(self, *args: Any) -> bytes:
                chunk = bytes(self._body.read(*args))
                with disk._lock:
                    if len(chunk) > disk.free:
                        disk.free += self.charged
                        self.charged = 0
                        disk.failures += 1
                        raise OSError(disk.code, os.strerror(disk.code))
                    disk.free -= len(chunk)
                self.charged += len(chunk)
                return chunk

            def __getattr__(self, name: str) -> Any:
                return getattr(self._body, name)

        def stream(body: Any, *args: Any, **kwargs: Any) -> int:
            return int(original(Metered(body), *args, **kwargs))

        monkeypatch.setattr(download, "_stream", stream)


def quick(worker: Worker) -> Worker:
    """The worker's retry backoff shortened (1 s doubling to 60 s in service), where it has one."""
    if hasattr(worker, "pause"):
        # Imported here: the module is new in issue 15, and these tests also run on the old
        # code, to show that they fail there.
        from bucketsync.runtimes.pause import Backoff  # noqa: PLC0415

        worker.pause.retry = Backoff(first=0.2, cap=1.0)
    return worker


class Running:
    """``worker.run`` on a thread, stopped (and joined) by ``stop()``."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=worker.run, args=(self.stopping,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the worker did not stop"


@pytest.fixture
def running() -> Iterator[Callable[[Worker], Running]]:
    started: list[Running] = []

    def start(worker: Worker) -> Running:
        started.append(Running(worker))
        return started[-1]

    yield start
    for run in started:
        run.stop()
        run.worker.engine.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took ``condition`` to hold; fails after ``timeout``."""
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - began


def catalogued(clients: Clients, table: str, bucket: str) -> int:
    try:
        return len(list(CatalogReader(clients.dynamodb, table).list(bucket)))
    except Exception:  # the table does not exist yet
        return 0


def dead_letters(clients: Clients, stack: Stack) -> int:
    visible, in_flight = queue_counts(clients, stack.dlq_url)
    return visible + in_flight


def put_objects(clients: Clients, stack: Stack, count: int, size: int = 16) -> list[str]:
    keys = [f"faults/{n:02d}.bin" for n in range(count)]
    for key in keys:
        clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=os.urandom(size))
    return keys


# -- the worker, a missing table ---------------------------------------------------------------


def test_a_missing_table_pauses_the_worker_and_loses_nothing(
    settings: Settings,
    clients: Clients,
    stack: Stack,
    running: Callable[[Worker], Running],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN 5 uploads queued (the DLQ takes a message after 3 receives) and a worker whose
    # table does not exist yet
    table = f"{stack.table}-later"
    keys = put_objects(clients, stack, 5)
    worker_clients = Clients(settings.override(table=table))
    receives = count_receives(worker_clients)
    worker = quick(build_worker(settings.override(table=table), worker_clients, threads=1))
    # WHEN it runs for 6 seconds
    caplog.set_level(logging.INFO, logger="bucketsync")
    run = running(worker)
    time.sleep(6)
    # THEN every message was received once and kept: none in the DLQ, and one line says why
    in_dlq = dead_letters(clients, stack)
    most = max(receives.values(), default=0)
    print(f"after 6 s: receives {dict(receives)}, max {most}, in the DLQ {in_dlq}")
    assert in_dlq == 0
    assert most == 1, receives
    paused = [r for r in caplog.records if r.levelno >= logging.ERROR and "paused" in r.message]
    assert len(paused) == 1, [r.message for r in caplog.records]
    assert "configuration" in paused[0].message and table in paused[0].message
    # ... and once the table is made, the 5 events land without anyone touching the worker
    worker_clients.dynamodb.create_table(**table_definition(table))
    took = wait_until(lambda: catalogued(clients, table, stack.bucket) == 5, 20, "5 events")
    print(f"the 5 events landed {took:.1f} s after the table was made")
    run.stop()
    assert dead_letters(clients, stack) == 0
    assert queue_counts(clients, stack.queue_url) == (0, 0)
    assert max(receives.values()) == 1, receives
    assert any("resumed" in r.message for r in caplog.records)
    drift = compare(
        dict(list_bucket(clients.s3, stack.bucket)),
        catalog_fingerprints(CatalogReader(clients.dynamodb, table).list(stack.bucket)),
    )
    assert drift.in_sync, drift
    assert len(keys) == 5


def test_drain_with_a_missing_table_stops_and_says_why(
    emulator: Emulator, clients: Clients, stack: Stack, tmp_path: Path
) -> None:
    # GIVEN 5 uploads queued and `bucketsync worker --drain` aimed at a table that is missing
    put_objects(clients, stack, 5)
    environment = dict(os.environ)
    environment.update(settings_for(emulator))
    environment.update(
        BUCKETSYNC_TABLE="nope",
        BUCKETSYNC_QUEUE_URL=stack.queue_url,
        BUCKETSYNC_WAIT_TIME_SECONDS="1",
        BUCKETSYNC_LOG_FORMAT="text",
    )
    # WHEN it runs
    began = time.monotonic()
    process = subprocess.Popen(
        [console_script(), "worker", "--drain"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environment,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        print(f"still running after 20 s; in the DLQ: {dead_letters(clients, stack)}")
        pytest.fail(f"the worker never stopped:\n{output.decode()[-2000:]}")
    took = time.monotonic() - began
    text = output.decode()
    print(f"exit {process.returncode} after {took:.1f} s; DLQ {dead_letters(clients, stack)}")
    # THEN it stops with EX_CONFIG and one line naming the fault, and every message is kept
    assert process.returncode == 78, text
    reason = [line for line in text.splitlines() if line.startswith("configuration error:")]
    assert len(reason) == 1 and "nope" in reason[0], text
    print(reason[0])
    assert dead_letters(clients, stack) == 0
    visible, in_flight = queue_counts(clients, stack.queue_url)
    assert visible + in_flight >= 5


# -- the worker, a full mirror disk -----------------------------------------------------------


def test_a_full_mirror_disk_keeps_the_messages_until_it_grows(
    settings: Settings,
    clients: Clients,
    stack: Stack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    running: Callable[[Worker], Running],
) -> None:
    # GIVEN a mirror on a 5 MiB disk, 10 uploads of 1 MiB, and a DLQ after 2 receives
    ensure_stack(clients, stack.names, max_receive_count=2)
    disk = CappedDisk(5 * MIB)
    disk.install(monkeypatch)
    mirror = tmp_path / "mirror"
    keys = put_objects(clients, stack, 10, size=MIB)
    worker_settings = settings.override(mirror_dir=str(mirror))
    worker_clients = Clients(worker_settings)
    receives = count_receives(worker_clients)
    worker = quick(build_worker(worker_settings, worker_clients, threads=1))
    # WHEN the worker runs for 9 seconds

    def files() -> int:
        return sum(1 for key in keys if (mirror / key).is_file())

    run = running(worker)
    time.sleep(9)
    # THEN what fits is written, nothing is dead-lettered, and nothing was received twice
    in_dlq, most = dead_letters(clients, stack), max(receives.values(), default=0)
    print(f"after 9 s: {files()} files, DLQ {in_dlq}, max receives {most}, {disk.failures} ENOSPC")
    assert disk.failures > 0
    assert files() <= 5
    assert in_dlq == 0
    assert most == 1, receives
    # ... and once the disk grows, every object lands
    disk.grow()
    took = wait_until(lambda: files() == 10, 20, "10 files")
    print(f"the other files landed {took:.1f} s after the disk grew")
    run.stop()
    assert dead_letters(clients, stack) == 0
    assert max(receives.values()) == 1, receives


# -- the Lambda handler --------------------------------------------------------------------------


def test_the_lambda_handler_fails_a_batch_whole_and_leaves_the_wait_to_sqs(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN a batch of 3 uploads received off a queue whose visibility timeout is 1 second,
    # and a handler whose table is missing
    ensure_stack(clients, stack.names, visibility_timeout=1)
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)  # the stack's s3:TestEvent
    put_objects(clients, stack, 3)
    messages: list[Any] = []
    while len(messages) < 3:
        messages += clients.sqs.receive_message(
            QueueUrl=stack.queue_url,
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=["All"],
            WaitTimeSeconds=1,
        ).get("Messages", [])
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": stack.queue_arn,
                "awsRegion": settings.region,
            }
            for m in messages
        ]
    }
    app = LambdaApp(settings.override(table="nope"))
    context = SimpleNamespace(
        function_name="bucketsync",
        memory_limit_in_mb=256,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bucketsync",
        aws_request_id="req-1",
        get_remaining_time_in_millis=lambda: 60_000,
    )
    # WHEN it handles the batch
    began = time.monotonic()
    with pytest.raises(Exception) as failed:
        app.handle(event, context)
    took = time.monotonic() - began
    # THEN the whole batch failed at once, saying why...
    print(f"failed whole in {took:.2f} s: {failed.value}")
    assert "nope" in str(failed.value)
    assert took < 10
    # ... and SQS holds the messages back longer than the queue's 1 s (60 s at a first receive)
    time.sleep(2)
    again = clients.sqs.receive_message(QueueUrl=stack.queue_url, WaitTimeSeconds=0)
    visible, in_flight = queue_counts(clients, stack.queue_url)
    print(f"2 s later: visible {visible}, in flight {in_flight}")
    assert "Messages" not in again
    assert (visible, in_flight) == (0, 3)
