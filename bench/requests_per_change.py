"""AWS requests the event path makes per 1,000 object changes, on the embedded emulator.

70% creates, 20% overwrites, 10% deletes, made by a client that is not counted; then the
worker drains the queue with a counted client. Prints requests per 1,000 changes by
operation, for the default (HeadObject) mode. moto sends no sequencers, so every key is
looked up (observation ordering); the same run against real S3 skips lookups for deletes.

    .venv/bin/python -m bench.requests_per_change [--changes 1000]
"""

from __future__ import annotations

import argparse
import random
import time

from bucketsync.aws.clients import Clients
from bucketsync.aws.request_counter import RequestCounter
from bucketsync.local.emulator import Emulator, emulator_settings
from bucketsync.local.stack import StackNames, ensure_stack
from bucketsync.reconcile import catalog_fingerprints, compare, list_bucket
from bucketsync.runtimes.build import build_worker
from bucketsync.sinks.catalog.reader import CatalogReader


def workload(n: int, rng: random.Random) -> list[tuple[str, str]]:
    """(operation, key) with 70% creates, 20% overwrites, 10% deletes."""
    ops: list[tuple[str, str]] = []
    live: list[str] = []
    creates = 0
    for i in range(n):
        roll = rng.random()
        if roll < 0.7 or not live:
            key = f"data/{creates:05d}.json"
            creates += 1
            live.append(key)
            ops.append(("create", key))
        elif roll < 0.9:
            ops.append(("overwrite", rng.choice(live)))
        else:
            key = live.pop(rng.randrange(len(live)))
            ops.append(("delete", key))
        del i
    return ops


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=1000)
    args = parser.parse_args()
    with Emulator() as emulator:
        settings = emulator_settings(emulator, table="bench")
        setup = Clients(settings)
        stack = ensure_stack(setup, StackNames.named("bench"))
        setup.sqs.purge_queue(QueueUrl=stack.queue_url)  # the s3:TestEvent
        for op, key in workload(args.changes, random.Random(7)):
            if op == "delete":
                setup.s3.delete_object(Bucket=stack.bucket, Key=key)
            else:
                setup.s3.put_object(Bucket=stack.bucket, Key=key, Body=f"{op} {key}".encode())
        counter = RequestCounter()
        counted = Clients(settings, counter)
        worker = build_worker(settings, counted, queue_url=stack.queue_url, threads=1)
        started = time.perf_counter()
        stats = worker.drain(idle_polls=1, timeout=None)
        elapsed = time.perf_counter() - started
        counts = counter.snapshot()
        drift = compare(
            dict(list_bucket(setup.s3, stack.bucket)),
            catalog_fingerprints(CatalogReader(setup.dynamodb, stack.table).list(stack.bucket)),
        )
    scale = 1000 / args.changes
    print(
        f"{args.changes} changes, {stats.received} messages, {elapsed:.1f}s, "
        f"catalog equals bucket: {drift.in_sync}"
    )
    print("requests per 1,000 changes:")
    for name, count in counts.items():
        print(f"  {name:32} {count * scale:8.1f}")
    print(f"  {'total':32} {sum(counts.values()) * scale:8.1f}")
    aws_side = sum(c for n, c in counts.items() if not n.startswith("sqs."))
    print(f"  {'total without SQS':32} {aws_side * scale:8.1f}")


if __name__ == "__main__":
    main()
