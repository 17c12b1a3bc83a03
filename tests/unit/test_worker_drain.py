"""The worker with messages held by a fault, on an in-memory queue (``worker_pausing.py``):
``drain`` stops on a configuration fault and hands the messages back, and waits out a
transient one; a stop hands back what is held; a caller looping on ``poll_once`` (as the
service's queue feed does) gets the retries too."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from bucketsync.engine.pipeline import Engine
from bucketsync.engine.update import Update
from bucketsync.errors import ConfigurationError, RetryableError
from bucketsync.runtimes.pause import Backoff, Pause
from bucketsync.runtimes.worker import Worker
from tests.unit.fakes import FakeBucket, to_body
from tests.unit.worker_pausing import QUEUE, Clock, FakeQueue, FaultySink, Rig, missing_table


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
