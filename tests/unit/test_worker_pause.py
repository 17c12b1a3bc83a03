"""The worker's fault policy on an in-memory queue and a manual clock.

Poison is handed back at once; a fault of ours holds the messages (no further receive) and
pauses the worker until they go through; a probe batch that goes through hands the held ones
back with their backoff; ``drain`` stops on a configuration fault; a lasting fault that clears
triggers the worker's reconcile.
"""

from __future__ import annotations

import errno
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pytest

from bucketsync.engine.pipeline import Engine
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import ConfigurationError, RetryableError, SinkWriteError
from bucketsync.runtimes.pause import Backoff, Pause
from bucketsync.runtimes.worker import Worker
from bucketsync.sinks.memory import MemorySink
from tests.unit.fakes import FakeBucket, to_body

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/q"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Stop(threading.Event):
    """A stop event whose waits pass on the manual clock instead of sleeping, the heartbeat
    beating as its thread would (every 5 s of that clock)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.worker: Worker | None = None

    def wait(self, timeout: float | None = None) -> bool:
        left = timeout or 0.0
        while left > 0:
            tick = min(left, 5.0)
            self.clock.now += tick
            left -= tick
            if self.worker is not None and self.worker.heartbeat is not None:
                self.worker.heartbeat.beat()
        return self.is_set()


@dataclass
class Message:
    body: str
    receives: int = 0
    visible_at: float = 0.0
    handle: str = ""


class FakeQueue:
    """Just enough SQS: receive (counting), delete, visibility changes, one attribute."""

    def __init__(self, clock: Callable[[], float], visibility: int = 30) -> None:
        self.clock = clock
        self.visibility = visibility
        self.messages: dict[str, Message] = {}
        self.receives: list[list[str]] = []
        self.changes: list[tuple[str, int]] = []  # (message id, seconds)
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def send(self, body: str) -> str:
        message_id = f"m{next(self._ids)}"
        self.messages[message_id] = Message(body)
        return message_id

    def receive_message(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            now = self.clock()
            taken = [(i, m) for i, m in self.messages.items() if m.visible_at <= now][
                : request["MaxNumberOfMessages"]
            ]
            out: list[dict[str, Any]] = []
            for message_id, message in taken:
                message.receives += 1
                message.handle = f"{message_id}#{message.receives}"
                message.visible_at = now + request.get("VisibilityTimeout", self.visibility)
                out.append(
                    {
                        "MessageId": message_id,
                        "ReceiptHandle": message.handle,
                        "Body": message.body,
                        "Attributes": {"ApproximateReceiveCount": str(message.receives)},
                    }
                )
            self.receives.append([m["MessageId"] for m in out])
            return {"Messages": out} if out else {}

    def _find(self, handle: str) -> tuple[str, Message] | None:
        for message_id, message in self.messages.items():
            if message.handle == handle:
                return message_id, message
        return None

    def delete_message_batch(self, QueueUrl: str, Entries: list[Any]) -> dict[str, Any]:
        with self._lock:
            for entry in Entries:
                found = self._find(entry["ReceiptHandle"])
                if found:
                    del self.messages[found[0]]
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def change_message_visibility_batch(
        self,
        QueueUrl: str,
        Entries: list[Any],
    ) -> dict[str, Any]:
        ok, failed = [], []
        with self._lock:
            for entry in Entries:
                found = self._find(entry["ReceiptHandle"])
                if found is None:
                    failed.append({"Id": entry["Id"], "Code": "ReceiptHandleIsInvalid"})
                    continue
                found[1].visible_at = self.clock() + entry["VisibilityTimeout"]
                self.changes.append((found[0], entry["VisibilityTimeout"]))
                ok.append({"Id": entry["Id"]})
        return {"Successful": ok, "Failed": failed}

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {"Attributes": {"VisibilityTimeout": str(self.visibility)}}

    def received(self, message_id: str) -> int:
        return sum(batch.count(message_id) for batch in self.receives)


class FaultySink(MemorySink):
    """A memory sink that fails the updates ``fails`` names with the error it returns."""

    def __init__(self) -> None:
        super().__init__()
        self.fails: Callable[[Update], BaseException | None] = lambda update: None
        self.calls = 0

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]:
        self.calls += 1
        errors = [self.fails(u) for u in updates]
        applied = iter(super().apply([u for u, e in zip(updates, errors, strict=True) if not e]))
        return [error or next(applied) for error in errors]


class Schedule:
    """A stand-in reconcile schedule: counts triggers."""

    interval = None

    def __init__(self) -> None:
        self.triggers: list[str] = []

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def trigger(self, why: str) -> None:
        self.triggers.append(why)


@dataclass
class Rig:
    clock: Clock
    queue: FakeQueue
    sink: FaultySink
    bucket: FakeBucket
    worker: Worker
    stop: Stop
    schedule: Schedule

    def put(self, key: str) -> str:
        return self.queue.send(to_body(self.bucket.put(key, key.encode())))

    def steps(self, count: int) -> None:
        for _ in range(count):
            self.worker.poll_once(0, stop=self.stop)


@pytest.fixture
def rig() -> Rig:
    clock = Clock()
    queue = FakeQueue(clock)
    sink = FaultySink()
    bucket = FakeBucket()
    schedule = Schedule()
    worker = Worker(
        Engine(bucket, [sink]),
        cast(Any, queue),
        QUEUE,
        threads=1,
        wait_time_seconds=0,
        reconcile=cast(Any, schedule),
        context="catalog table 'nope'",
        clock=clock,
    )
    stop = Stop(clock)
    stop.worker = worker
    return Rig(clock, queue, sink, bucket, worker, stop, schedule)


def missing_table(update: Update) -> BaseException:
    return ConfigurationError("PutItem: ResourceNotFoundException: Requested resource not found")


def test_poison_is_handed_back_at_once_and_pauses_nothing(rig: Rig) -> None:
    # GIVEN a message whose key the sink refuses for good, and a good one
    bad, good = rig.put("bad.txt"), rig.put("good.txt")
    rig.sink.fails = lambda u: SinkWriteError("too large") if u.key == "bad.txt" else None
    # WHEN the worker steps three times
    rig.steps(3)
    # THEN the bad one came back at once and was received again each time (on to the DLQ),
    # the good one was applied, and the worker never paused
    assert rig.queue.received(bad) == 3
    assert good not in rig.queue.messages
    assert (bad, 0) in rig.queue.changes
    assert not rig.worker.pause.paused


def test_a_configuration_fault_holds_the_messages_until_it_clears(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN 5 messages and a table that is missing
    ids = [rig.put(f"k{n}.txt") for n in range(5)]
    rig.sink.fails = missing_table
    caplog.set_level(logging.INFO, logger="bucketsync")
    # WHEN the worker runs for 3 minutes (the clock moving with each wait)
    began = rig.clock.now
    while rig.clock.now - began < 180:
        rig.steps(1)
    # THEN each was received once: held and retried with backoff (a probe, after 5 minutes,
    # would have found nothing new)
    assert [rig.queue.received(i) for i in ids] == [1] * 5
    assert all(batch == [] for batch in rig.queue.receives[1:])
    assert rig.worker.pause.paused
    retries = rig.sink.calls - 1
    assert 0 < retries < 12  # 1, 2, 4 ... 60 s apart
    assert rig.clock.now - began > 60  # the backoff grew to its 60 s cap
    paused = [r.message for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(paused) == 1, paused
    assert "configuration fault, 5 message(s) kept" in paused[0]
    assert "catalog table 'nope'" in paused[0]
    # ... and the heartbeat kept them out of sight meanwhile
    assert all(m.visible_at > rig.clock.now for m in rig.queue.messages.values())
    # WHEN the table appears
    rig.sink.fails = lambda u: None
    rig.steps(5)
    # THEN all 5 are applied and deleted, the worker resumed, and the lasting fault's end
    # asked for one reconcile
    assert rig.queue.messages == {}
    assert not rig.worker.pause.paused
    assert len(rig.sink.items) == 5
    assert rig.schedule.triggers == ["the configuration fault cleared"]
    assert [rig.queue.received(i) for i in ids] == [1] * 5
    assert any("worker resumed" in r.message for r in caplog.records)


def test_a_short_transient_pause_is_no_reason_to_reconcile(rig: Rig) -> None:
    # GIVEN a throttled write that goes through on the second try
    rig.put("a.txt")
    tries = iter([RetryableError("ThrottlingException"), None])
    rig.sink.fails = lambda u: next(tries, None)
    rig.steps(4)
    assert rig.queue.messages == {}
    assert rig.schedule.triggers == []
    assert rig.worker.stats.succeeded == 1 and rig.worker.stats.failed == 0


def test_a_full_disk_for_minutes_is_lasting(rig: Rig) -> None:
    full = RetryableError("cannot write")
    full.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    rig.put("a.txt")
    rig.sink.fails = lambda u: full
    while rig.clock.now - 1000.0 < 60:  # 1 + 2 + 4 ... s: past a minute
        rig.steps(1)
    assert rig.worker.pause.paused
    rig.sink.fails = lambda u: None
    rig.steps(3)
    assert rig.queue.messages == {}
    assert rig.schedule.triggers == ["the transient fault cleared"]


def test_a_probe_that_goes_through_hands_the_held_message_back_with_backoff(rig: Rig) -> None:
    # GIVEN one message that fails as if the fault were ours, but only for its own key
    stuck = rig.put("stuck.txt")
    rig.sink.fails = lambda u: RetryableError("InternalError") if u.key == "stuck.txt" else None
    rig.worker.pause = Pause(Backoff(1, 60), Backoff(300, 3600), clock=rig.clock)
    rig.steps(3)
    assert rig.worker.pause.paused
    # WHEN other messages arrive and the probe (after 5 minutes) takes them
    fresh = rig.put("fresh.txt")
    while rig.queue.received(fresh) == 0:
        rig.steps(1)
    # THEN they went through, so the stuck one is handed back with a first receive's backoff
    # (60 s) and the worker takes messages again
    assert fresh not in rig.queue.messages
    assert (stuck, 60) in rig.queue.changes
    assert not rig.worker.pause.paused
    assert rig.clock.now - 1000.0 >= 300
    assert rig.queue.received(stuck) == 1


def test_drain_stops_on_a_configuration_fault_and_hands_the_messages_back(rig: Rig) -> None:
    ids = [rig.put(f"k{n}.txt") for n in range(3)]
    rig.sink.fails = missing_table
    with pytest.raises(ConfigurationError) as stopped:
        rig.worker.drain(stop=rig.stop)
    assert str(stopped.value).startswith("worker stopped, 3 message(s) handed back")
    assert "ResourceNotFoundException" in str(stopped.value)
    assert "catalog table 'nope'" in str(stopped.value)
    # handed back at once, received once: the next run takes them at once
    assert all(rig.queue.messages[i].visible_at <= rig.clock.now for i in ids)
    assert [rig.queue.received(i) for i in ids] == [1, 1, 1]


def test_drain_waits_out_a_transient_fault(rig: Rig) -> None:
    rig.put("a.txt")
    tries = iter([RetryableError("SlowDown")] * 4)
    rig.sink.fails = lambda u: next(tries, None)
    stats = rig.worker.drain(stop=rig.stop)
    assert rig.queue.messages == {}
    assert (stats.received, stats.succeeded, stats.failed) == (1, 1, 0)


def test_stopping_hands_back_what_is_held(rig: Rig) -> None:
    message = rig.put("a.txt")

    def fail_then_stop(update: Update) -> BaseException:
        rig.stop.set()
        return RetryableError("SlowDown")

    rig.sink.fails = fail_then_stop
    rig.worker.drain(stop=rig.stop)
    assert rig.queue.messages[message].visible_at <= rig.clock.now
    assert (message, 0) in rig.queue.changes


def test_a_caller_looping_on_poll_once_gets_the_retries_too() -> None:
    # GIVEN a worker on the real clock whose write fails 3 times, driven the way the service's
    # queue feed drives it: poll_once() in a loop of its own, no stop event
    clock = Clock()
    queue = FakeQueue(clock)
    sink = FaultySink()
    bucket = FakeBucket()
    worker = Worker(Engine(bucket, [sink]), cast(Any, queue), QUEUE, wait_time_seconds=0)
    worker.pause = Pause(Backoff(0.05, 0.1))
    message = queue.send(to_body(bucket.put("a.txt", b"a")))
    tries = iter([RetryableError("SlowDown")] * 3)
    sink.fails = lambda u: next(tries, None)
    # WHEN it loops
    began = time.monotonic()
    while message in queue.messages:
        worker.poll_once()
        assert time.monotonic() - began < 5, "the held message was never retried"
    worker.close()
    # THEN the held message was retried without another receive, and applied
    assert queue.received(message) == 1
    assert sink.calls == 4


def test_threads_share_the_pause_and_take_nothing_while_it_lasts() -> None:
    # GIVEN 20 messages, a worker with 3 threads on the real clock, and a missing table
    queue = FakeQueue(time.monotonic)
    sink = FaultySink()
    bucket = FakeBucket()
    worker = Worker(Engine(bucket, [sink]), cast(Any, queue), QUEUE, threads=3, wait_time_seconds=0)
    worker.pause = Pause(Backoff(0.05, 0.2))
    ids = [queue.send(to_body(bucket.put(f"k{n}.txt", b"x"))) for n in range(20)]
    sink.fails = missing_table
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,))
    runner.start()
    try:
        # WHEN it runs a second
        time.sleep(1.0)
        # THEN whatever was taken was taken once and is held; the rest was left alone
        taken = [i for i in ids if queue.received(i)]
        assert taken and all(queue.received(i) == 1 for i in ids if i in taken)
        assert worker.pause.paused
        # ... and once the table is there, everything goes through
        sink.fails = lambda u: None
        deadline = time.monotonic() + 10
        while queue.messages:
            assert time.monotonic() < deadline, f"{len(queue.messages)} left"
            time.sleep(0.05)
    finally:
        stop.set()
        runner.join(timeout=10)
    assert all(queue.received(i) == 1 for i in ids)
    assert len(sink.items) == 20
