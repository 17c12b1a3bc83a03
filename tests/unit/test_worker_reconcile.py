"""The worker's reconcile schedule: at start and on its interval, once per trigger, one run at a
time, stoppable; and how ``build_worker`` sets it up from the settings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from bucketsync.engine.pipeline import Engine
from bucketsync.errors import ConfigurationError
from bucketsync.reconcile.report import Report
from bucketsync.runtimes.build import build_worker
from bucketsync.runtimes.schedule import ReconcileSchedule
from bucketsync.settings import Settings
from bucketsync.sinks.memory import MemorySink
from tests.unit.fakes import FakeBucket

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/q"


class Runs:
    """A reconcile stand-in: counts runs; each lasts ``seconds`` unless cancelled."""

    def __init__(self, seconds: float = 0.0, fail: bool = False) -> None:
        self.count = 0
        self.seconds = seconds
        self.fail = fail
        self.cancelled = 0
        self.lock = threading.Lock()

    def __call__(self, cancel: threading.Event) -> Report:
        with self.lock:
            self.count += 1
        if cancel.wait(self.seconds):
            self.cancelled += 1
        if self.fail:
            raise RuntimeError("the listing failed")
        return Report("b", "", "listing", False)


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)


def test_with_an_interval_it_runs_at_start_and_then_on_it() -> None:
    runs = Runs()
    schedule = ReconcileSchedule(runs, 0.3)
    schedule.start()
    try:
        eventually(lambda: runs.count >= 1, 1.0)  # at start, without waiting the interval
        eventually(lambda: runs.count >= 3, 3.0)
    finally:
        schedule.stop()


def test_without_one_it_runs_only_when_triggered() -> None:
    runs = Runs()
    schedule = ReconcileSchedule(runs, None)
    schedule.start()
    try:
        time.sleep(0.3)
        assert runs.count == 0
        schedule.trigger("the configuration fault cleared")
        eventually(lambda: runs.count == 1)
        time.sleep(0.2)
        assert runs.count == 1
    finally:
        schedule.stop()


def test_triggers_during_a_run_ask_for_one_more_run() -> None:
    runs = Runs(seconds=0.5)
    schedule = ReconcileSchedule(runs, None)
    schedule.start()
    try:
        schedule.trigger("first")
        eventually(lambda: runs.count == 1)
        for _ in range(3):
            schedule.trigger("again")
        eventually(lambda: runs.count == 2, 3.0)
        time.sleep(0.8)
        assert runs.count == 2
    finally:
        schedule.stop()


def test_a_failed_run_does_not_end_the_schedule_and_stop_cancels_a_run() -> None:
    runs = Runs(fail=True)
    schedule = ReconcileSchedule(runs, None)
    schedule.start()
    schedule.trigger("one")
    eventually(lambda: schedule.runs == 1)
    runs.fail, runs.seconds = False, 30.0
    schedule.trigger("two")
    eventually(lambda: runs.count == 2)
    began = time.monotonic()
    schedule.stop()
    assert time.monotonic() - began < 2
    assert runs.cancelled == 1


def test_a_trigger_before_start_waits_for_it() -> None:
    runs = Runs()
    schedule = ReconcileSchedule(runs, None)
    schedule.trigger("early")
    time.sleep(0.1)
    assert runs.count == 0
    schedule.stop()


def clients() -> Any:
    return SimpleNamespace(sqs=None, s3=None, dynamodb=None)


def engine() -> Engine:
    return Engine(FakeBucket(), [MemorySink()])


def test_build_worker_reconciles_the_engine_s_own_sinks_when_it_knows_the_bucket() -> None:
    settings = Settings(queue_url=QUEUE, bucket="b", reconcile_interval_hours=2)
    worker = build_worker(settings, clients(), engine=engine())
    assert worker.reconcile is not None and worker.reconcile.interval == 7200
    no_interval = build_worker(Settings(queue_url=QUEUE, bucket="b"), clients(), engine=engine())
    assert no_interval.reconcile is not None and no_interval.reconcile.interval is None


def test_without_a_bucket_there_is_nothing_to_reconcile() -> None:
    worker = build_worker(Settings(queue_url=QUEUE), clients(), engine=engine())
    assert worker.reconcile is None
    with pytest.raises(ConfigurationError, match="BUCKETSYNC_BUCKET"):
        build_worker(
            Settings(queue_url=QUEUE, reconcile_interval_hours=1), clients(), engine=engine()
        )
