"""bench.fake_aws answers every call a worker makes: the throughput benchmark's fake-AWS worker
runs hung (the heartbeat's GetQueueAttributes was refused, so every poll failed and the run
never reached its count) until it did."""

from __future__ import annotations

import json
import threading

from bench.fake_aws import FakeAWS
from bench.metering import Meter, run_worker
from pydantic import SecretStr

from bucketsync.runtimes.build import build_worker
from bucketsync.settings import Settings


def event(n: int) -> str:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-23T12:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": "b"},
            "object": {"key": f"k{n}", "size": 1, "eTag": "e", "sequencer": f"{n + 1:016X}"},
        },
    }
    return json.dumps({"Records": [record]})


def test_a_worker_against_the_fake_applies_every_message() -> None:
    settings = Settings(
        endpoint_url="http://fake-aws.invalid",
        access_key_id=SecretStr("fake"),
        secret_access_key=SecretStr("fake"),
        table="fake",
        queue_url="http://fake-aws.invalid/123456789012/fake",
        lean=True,
        wait_time_seconds=0,
    )
    fake = FakeAWS(latency=0.0)
    fake.enqueue(event(n) for n in range(25))
    worker = build_worker(settings, Meter().clients(settings, fake), threads=2)
    run = threading.Thread(target=run_worker(worker, 25), daemon=True)
    run.start()
    run.join(timeout=30)
    assert not run.is_alive(), f"the worker never applied 25 messages: {worker.stats}"
    assert (worker.stats.succeeded, worker.stats.failed) == (25, 0)
