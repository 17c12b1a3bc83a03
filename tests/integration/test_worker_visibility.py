"""A batch that takes longer than the queue's visibility timeout is received once (issue 15,
item 2): the worker's heartbeat extends the visibility of the messages it works on, and stops
once they are deleted.

The slow part is HeadObject, held back by a botocore ``before-send`` hook on the worker's own
S3 client; receives and visibility changes are counted by hooks on its SQS client.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from bucketsync.aws.clients import Clients
from bucketsync.local.stack import Stack, ensure_stack, queue_counts
from bucketsync.runtimes.build import build_worker
from bucketsync.runtimes.worker import Worker
from bucketsync.settings import Settings
from bucketsync.sinks.catalog.reader import CatalogReader

SLOW_SECONDS = 7.0  # each HeadObject: 3.5 times the queue's visibility timeout
VISIBILITY_SECONDS = 2


def test_a_batch_slower_than_the_visibility_timeout_is_received_once(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN a queue whose messages come back after 2 s, and a worker (one thread) whose every
    # HeadObject takes 7 s
    ensure_stack(clients, stack.names, visibility_timeout=VISIBILITY_SECONDS)
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)  # the stack's s3:TestEvent
    receives: Counter[str] = Counter()
    heads: list[float] = []
    extended: list[int] = []

    def after_receive(parsed: dict[str, Any], **_: Any) -> None:
        for message in parsed.get("Messages", []):
            receives[message["MessageId"]] += 1

    def slow_head(**_: Any) -> None:
        heads.append(time.monotonic())
        time.sleep(SLOW_SECONDS)

    def on_extend(params: dict[str, Any], **_: Any) -> None:
        extended.extend(int(e["VisibilityTimeout"]) for e in params.get("Entries", [params]))

    def worker() -> Worker:
        worker_clients = Clients(settings)
        worker_clients.sqs.meta.events.register("after-call.sqs.ReceiveMessage", after_receive)
        worker_clients.s3.meta.events.register("before-send.s3.HeadObject", slow_head)
        for operation in ("ChangeMessageVisibility", "ChangeMessageVisibilityBatch"):
            worker_clients.sqs.meta.events.register(
                f"provide-client-params.sqs.{operation}", on_extend
            )
        return build_worker(settings, worker_clients, threads=1)

    first, second = worker(), worker()
    stop = threading.Event()
    threads = [threading.Thread(target=first.run, args=(stop,), daemon=True)]
    threads[0].start()
    began = time.monotonic()
    key = "slow/one.txt"
    catalog = CatalogReader(clients.dynamodb, stack.table)
    try:
        # WHEN one upload is taken by the first worker, and a second worker polls meanwhile
        # (started once the message is taken: moto could hand one message to two concurrent
        # long polls, which would read as a redelivery)
        clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=b"slow")
        while not heads:
            assert time.monotonic() - began < 10, "the first worker took nothing"
            time.sleep(0.05)
        threads.append(threading.Thread(target=second.run, args=(stop,), daemon=True))
        threads[1].start()
        while not (
            catalog.get(stack.bucket, key) is not None
            and queue_counts(clients, stack.queue_url) == (0, 0)
        ):
            assert time.monotonic() - began < 4 * SLOW_SECONDS, (receives, len(heads))
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        first.engine.close()
        second.engine.close()
    took = time.monotonic() - began
    # THEN the message was received once and looked up once, its visibility extended
    # meanwhile, and nothing reached the DLQ
    print(
        f"{took:.1f} s: receives {dict(receives)}, HeadObjects {len(heads)}, "
        f"visibility changes {extended}"
    )
    assert list(receives.values()) == [1], receives
    assert len(heads) == 1
    assert extended and all(0 < seconds <= 43200 for seconds in extended)
    assert queue_counts(clients, stack.dlq_url) == (0, 0)
