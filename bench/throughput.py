"""Event-path throughput on the raw emulator: bucketsync's batch processor vs the seed-style
handler (seeds 000-003: per record, HeadObject then PutItem or DeleteItem, sequentially).

2,000 object changes (70% creates, 20% overwrites, 10% deletes) are made in the bucket, and the
notifications S3 would send (with sequencers, as real S3 sends them) are delivered as SQS
batches of 10 to each handler in turn, in the same process, each into its own table.

    .venv/bin/python -m bench.throughput [--changes 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from botocore.exceptions import ClientError
from pydantic import SecretStr

from bench.cost import estimate, format_table
from bench.fake_aws import Delay, FakeAWS
from bench.metering import Batch, Meter, Result, run_handler, run_worker, sqs_feeder
from bench.requests_per_change import workload
from bucketsync.aws.clients import Clients
from bucketsync.compose import build_engine
from bucketsync.local.emulator import Emulator, emulator_settings
from bucketsync.local.stack import StackNames, ensure_stack
from bucketsync.runtimes.build import build_worker
from bucketsync.runtimes.lambda_handler import LambdaApp
from bucketsync.settings import Settings
from bucketsync.sinks.tables import table_definition

LATENCY = 0.010
WORKER_THREADS = 4


@dataclass
class Workload:
    batches: list[Batch]  # SQS batches of 10, in the shape Lambda delivers them
    objects: dict[str, bytes]  # what each key holds at the end (the fake's HeadObject answers)

    @property
    def events(self) -> int:
        return sum(len(b) for b in self.batches)

    def bodies(self) -> list[str]:
        return [m["body"] for b in self.batches for m in b]


def make_events(clients: Clients, bucket: str, n: int) -> Workload:
    """Apply the workload to the bucket; return the SQS batches S3 would have caused."""
    records = []
    objects: dict[str, bytes] = {}
    for seq, (op, key) in enumerate(workload(n, random.Random(11)), start=1):
        if op == "delete":
            clients.s3.delete_object(Bucket=bucket, Key=key)
            objects.pop(key, None)
            name, obj = "ObjectRemoved:Delete", {}
        else:
            body = f"{op} {key}".encode()
            etag = clients.s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')
            objects[key] = body
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
    return Workload([records[i : i + 10] for i in range(0, len(records), 10)], objects)


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


class _Context:
    """The parts of a LambdaContext that Powertools reads."""

    function_name = "bucketsync-bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bucketsync-bench"
    aws_request_id = "bench"


def bucketsync_handler(settings: Settings, clients: Clients) -> Callable[[Batch], None]:
    """bucketsync's Lambda handler, one warm instance: batches one after another."""
    app = LambdaApp(settings, build_engine(settings, clients))

    def handle(batch: Batch) -> None:
        # Powertools writes one metrics document per invocation to stdout, as in Lambda.
        with contextlib.redirect_stdout(io.StringIO()):
            response = app.handle({"Records": batch}, _Context())
        assert not response["batchItemFailures"], response

    return handle


# -- the three ways ---------------------------------------------------------------------------


def variants(base: Settings) -> list[tuple[str, Settings]]:
    return [
        ("bucketsync", base),
        ("bucketsync single", base.override(write_mode="single")),
        ("bucketsync lean", base.override(lean=True)),
        ("bucketsync lean single", base.override(lean=True, write_mode="single")),
    ]


def on_emulator(
    emulator: Emulator, work: Workload, meter: Meter, setup: Clients, *, hook: Any, only: set[str]
) -> list[Result]:
    base = emulator_settings(emulator, log_level="WARNING")
    tables = iter(range(1_000_000))

    def fresh_table() -> str:
        name = f"bench-{uuid.uuid4().hex[:8]}-{next(tables)}"
        setup.dynamodb.create_table(**table_definition(name))
        return name

    results = [
        meter.measure(
            "seed-style (HEAD+PutItem)",
            work.events,
            run_handler(seed_style(meter.clients(base, hook), fresh_table()), work.batches),
        )
    ]
    print(results[0].line(None), flush=True)
    for name, variant in variants(base):
        if name not in only:
            continue
        settings = variant.override(table=fresh_table())
        handle = bucketsync_handler(settings, meter.clients(settings, hook))
        result = meter.measure(f"{name} handler", work.events, run_handler(handle, work.batches))
        print(result.line(results[0]), flush=True)
        results.append(result)
    for name, variant in variants(base):
        if f"{name} worker" not in only:
            continue
        queue = setup.sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        settings = variant.override(table=fresh_table(), queue_url=queue)
        worker = build_worker(settings, meter.clients(settings, hook), threads=WORKER_THREADS)
        feed = sqs_feeder(setup, queue, work.bodies())
        result = meter.measure(f"{name} worker", work.events, run_worker(worker, work.events, feed))
        print(result.line(results[0]), flush=True)
        results.append(result)
    return results


def on_fake(work: Workload, meter: Meter, latency: float, only: set[str]) -> list[Result]:
    base = Settings(
        endpoint_url="http://fake-aws.invalid",
        access_key_id=SecretStr("fake"),
        secret_access_key=SecretStr("fake"),
        table="fake",
        queue_url="http://fake-aws.invalid/123456789012/fake",
        log_level="WARNING",
    )
    fake = FakeAWS(latency, work.objects)
    results = [
        meter.measure(
            "seed-style (HEAD+PutItem)",
            work.events,
            run_handler(seed_style(meter.clients(base, fake), "fake"), work.batches),
        )
    ]
    print(results[0].line(None), flush=True)
    for name, settings in variants(base):
        if name in only:
            handle = bucketsync_handler(settings, meter.clients(settings, fake))
            result = meter.measure(
                f"{name} handler", work.events, run_handler(handle, work.batches)
            )
            print(result.line(results[0]), flush=True)
            results.append(result)
        if f"{name} worker" in only:
            fake.enqueue(work.bodies())
            worker = build_worker(settings, meter.clients(settings, fake), threads=WORKER_THREADS)
            result = meter.measure(f"{name} worker", work.events, run_worker(worker, work.events))
            print(result.line(results[0]), flush=True)
            results.append(result)
    return results


HANDLERS = ["bucketsync", "bucketsync single", "bucketsync lean", "bucketsync lean single"]
WORKERS = [f"{name} worker" for name in HANDLERS]
# Transactions on the emulator cost time in proportion to the table (bench.emulator_costs), so
# with added latency only the single-write variants run: the transact ones measure moto again.
RUNS = {
    "emulator": [*HANDLERS, "bucketsync single worker", "bucketsync lean single worker"],
    "delay": ["bucketsync single", "bucketsync lean single", "bucketsync single worker"],
    "fake": HANDLERS + WORKERS,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=2000)
    parser.add_argument("--ways", default="emulator,delay,fake", help="comma-separated")
    parser.add_argument("--runs", help="comma-separated variants, for every way (default: RUNS)")
    args = parser.parse_args()
    ways = args.ways.split(",")

    def only(way: str) -> set[str]:
        return set(args.runs.split(",") if args.runs else RUNS[way])

    with Emulator() as emulator:
        meter = Meter(emulator.pid)
        setup = Clients(emulator_settings(emulator))
        stack = ensure_stack(setup, StackNames.named("bench-throughput"))
        work = make_events(setup, stack.bucket, args.changes)
        print(f"{work.events} changes (70/20/10) in {len(work.batches)} SQS batches of 10")
        if "emulator" in ways:
            print("1. raw emulator:", flush=True)
            on_emulator(emulator, work, meter, setup, hook=None, only=only("emulator"))
        if "delay" in ways:
            print(f"2. emulator + {LATENCY * 1e3:.0f} ms per call:", flush=True)
            delay = Delay(LATENCY)
            on_emulator(emulator, work, meter, setup, hook=delay, only=only("delay"))
    if "fake" in ways:
        print(f"3. fake AWS answering every call after {LATENCY * 1e3:.0f} ms:", flush=True)
        results = on_fake(work, Meter(), LATENCY, only("fake"))
        print("AWS cost per million changes, Lambda time as measured against the fake:")
        print(cost_table(results))


def cost_table(results: list[Result]) -> str:
    """Cost per million changes of each Lambda handler, its duration measured against the fake."""
    handlers = [r for r in results if "worker" not in r.name]
    estimates = {
        r.name: estimate(
            changes=r.events,
            requests=r.counts,
            write_units=r.write_units,
            lambda_seconds=r.seconds,
            memory_mb=_Context.memory_limit_in_mb,
        )
        for r in handlers
    }
    return format_table(estimates)


if __name__ == "__main__":
    main()
