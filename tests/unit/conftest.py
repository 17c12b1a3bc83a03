"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from botocore.stub import Stubber

from bucketsync.engine.pipeline import Engine
from bucketsync.runtimes.worker import Worker
from bucketsync.sinks.mirror import MirrorStore
from tests.unit.fakes import FakeBucket
from tests.unit.scripted_server import Script, serving
from tests.unit.worker_pausing import QUEUE, Clock, FakeQueue, FaultySink, Rig, Schedule, Stop


@pytest.fixture
def client() -> Any:
    """A DynamoDB client that never reaches the network: pair it with ``stub``."""
    return boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def stub(client: Any) -> Iterator[Stubber]:
    """botocore's Stubber on ``client``: every queued answer must have been asked for."""
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def service() -> Iterator[tuple[str, Script]]:
    """A scripted HTTP server on loopback (``scripted_server.py``): its URL and its script."""
    script = Script()
    with serving(script) as url:
        yield url, script


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, Script]]:
    """A second server: where a redirect points, recording anything that reaches it."""
    script = Script()
    with serving(script) as url:
        yield url, script


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MirrorStore]:
    """A mirror store (SQLite) at ``tmp_path/state/state.sqlite``, closed afterwards."""
    with MirrorStore(tmp_path / "state" / "state.sqlite") as opened:
        yield opened


@pytest.fixture
def rig() -> Rig:
    """A worker of one thread on the manual clock, its fake queue, faulty sink and schedule."""
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
