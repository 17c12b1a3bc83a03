"""Event-path throughput on the raw emulator: bucketsync's batch processor vs the seed-style
handler (seeds 000-003: per record, HeadObject then PutItem or DeleteItem, sequentially).

2,000 object changes (70% creates, 20% overwrites, 10% deletes) are made in the bucket, and the
notifications S3 would send (with sequencers, as real S3 sends them) are delivered as SQS
batches of 10 to each handler in turn, in the same process, each into its own table.

    .venv/bin/python -m bench.throughput [--changes 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from botocore.exceptions import ClientError

from bench.requests_per_change import workload
from bucketsync.aws.clients import Clients
from bucketsync.aws.requests import RequestCounter
from bucketsync.local.emulator import Emulator, emulator_settings
from bucketsync.local.stack import StackNames, ensure_stack
from bucketsync.runtimes.processor import EngineBatchProcessor
from bucketsync.settings import Settings
from bucketsync.sinks.catalog.schema import table_definition
from bucketsync.wiring import build_engine

Batch = list[dict[str, Any]]


def make_events(clients: Clients, bucket: str, n: int) -> list[Batch]:
    """Apply the workload to the bucket; return the SQS batches S3 would have caused."""
    records = []
    for seq, (op, key) in enumerate(workload(n, random.Random(11)), start=1):
        if op == "delete":
            clients.s3.delete_object(Bucket=bucket, Key=key)
            name, obj = "ObjectRemoved:Delete", {}
        else:
            body = f"{op} {key}".encode()
            etag = clients.s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')
            name, obj = "ObjectCreated:Put", {"size": len(body), "eTag": etag}
        s3_record = {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-11-23T12:00:00.000Z",
            "eventName": name,
            "s3": {
                "s3SchemaVersion": "1.0",
                "bucket": {"name": bucket},
                "object": {"key": quote_plus(key), "sequencer": f"{seq:016X}", **obj},
            },
        }
        records.append(
            {
                "messageId": f"m{seq}",
                "receiptHandle": f"r{seq}",
                "body": json.dumps({"Records": [s3_record]}),
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
        )
    return [records[i : i + 10] for i in range(0, len(records), 10)]


def seed_style(clients: Clients, table: str) -> Callable[[Batch], None]:
    """What seeds 000-003 do: per record, HeadObject then PutItem (or DeleteItem)."""

    def handle(batch: Batch) -> None:
        for message in batch:
            for record in json.loads(message["body"])["Records"]:
                bucket = record["s3"]["bucket"]["name"]
                key = unquote_plus(record["s3"]["object"]["key"])
                ids = {"pk": {"S": f"BUCKET#{bucket}"}, "sk": {"S": f"KEY#{key}"}}
                if record["eventName"].startswith("ObjectRemoved"):
                    clients.dynamodb.delete_item(TableName=table, Key=ids)
                    continue
                try:
                    head = clients.s3.head_object(Bucket=bucket, Key=key)
                except ClientError:  # deleted since: a charitable seed skips it
                    continue
                clients.dynamodb.put_item(
                    TableName=table,
                    Item={
                        **ids,
                        "size": {"N": str(head["ContentLength"])},
                        "etag": {"S": head["ETag"].strip('"')},
                        "content_type": {"S": head.get("ContentType", "")},
                    },
                )

    return handle


def bucketsync_handler(settings: Settings, clients: Clients) -> Callable[[Batch], None]:
    engine = build_engine(settings, clients)

    def handle(batch: Batch) -> None:
        processor = EngineBatchProcessor(engine)
        with processor(batch, lambda record: None):
            processor.process()
        assert not processor.report.failures, processor.report.failures

    return handle


def run(
    name: str, handle: Callable[[Batch], None], batches: list[Batch], counter: RequestCounter
) -> dict[str, float]:
    counter.reset()
    started = time.perf_counter()
    for batch in batches:
        handle(batch)
    elapsed = time.perf_counter() - started
    events = sum(len(b) for b in batches)
    result = {
        "events_per_s": events / elapsed,
        "requests_per_1000": counter.total * 1000 / events,
    }
    print(
        f"  {name:28} {result['events_per_s']:8.1f} events/s  "
        f"{result['requests_per_1000']:7.0f} requests/1,000 events  {counter.snapshot()}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=2000)
    args = parser.parse_args()
    with Emulator() as emulator:
        base = emulator_settings(emulator, table="bench-bucketsync")
        setup = Clients(base)
        stack = ensure_stack(setup, StackNames.named("bench-throughput"))
        for table in ("bench-seed", "bench-bucketsync", "bench-lean"):
            setup.dynamodb.create_table(**table_definition(table))  # type: ignore[arg-type]
        batches = make_events(setup, stack.bucket, args.changes)
        counter = RequestCounter()
        counted = Clients(base, counter)
        print(f"{args.changes} changes in {len(batches)} SQS batches of 10, raw emulator:")
        seed = run("seed-style (HEAD+PutItem)", seed_style(counted, "bench-seed"), batches, counter)
        ours = run("bucketsync (HeadObject)", bucketsync_handler(base, counted), batches, counter)
        lean_settings = base.override(table="bench-lean", lean=True)
        lean = run(
            "bucketsync --lean", bucketsync_handler(lean_settings, counted), batches, counter
        )
    print(
        f"ratio vs seed-style: HeadObject {ours['events_per_s'] / seed['events_per_s']:.2f}x, "
        f"lean {lean['events_per_s'] / seed['events_per_s']:.2f}x"
    )


if __name__ == "__main__":
    main()
