"""The worker's fault policy on an in-memory queue and a manual clock (``worker_pausing.py``).

Poison is handed back at once; a fault of ours holds the messages (no further receive) and
pauses the worker until they go through; a probe batch that goes through hands the held ones
back with their backoff; a lasting fault that clears triggers the worker's reconcile; threads
share the pause. How ``drain``, a stop and a caller's own loop end with messages held:
``test_worker_drain.py``.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from typing import Any, cast

import pytest

from bucketsync.engine.pipeline import Engine
from bucketsync.errors import RetryableError, SinkWriteError
from bucketsync.runtimes.pause import Backoff, Pause
from bucketsync.runtimes.worker import Worker
from tests.unit.fakes import FakeBucket, to_body
from tests.unit.worker_pausing import QUEUE, FakeQueue, FaultySink, Rig, missing_table


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
