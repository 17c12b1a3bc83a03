"""Reconciling 20,000 objects into an empty catalog, and again with no drift, beside a naive loop.

The bucket is filled once (no notification: as if it held the objects before bucketsync).
Then, in two settings:

- **raw**: everything on the emulator. moto spends milliseconds of one interpreter on each
  conditional write, so this measures moto first; its CPU is reported beside the client's.
- **AWS-like**: DynamoDB's writes answered by ``fake_aws.FakeWrites`` after 10 ms plus 0.1 ms
  per KB (every condition holds), its reads (Query) sent to the emulator after 10 ms
  (``fake_aws.Delay``); S3 (ListObjectsV2, HeadObject) stays the emulator's.

each side runs:

- **naive**: list the bucket, then one HeadObject and one unconditional PutItem per object, in
  turn (what a first backfill script does). At ~80 objects/s the whole bucket would take minutes
  a run, so it runs on the first ``--naive-sample`` objects of the listing; its objects/s is
  measured there, the listing's time charged in proportion.
- **bucketsync**: ``Reconciler`` with the CLI's defaults (``single`` writes: one conditional
  PutItem, 1 write unit, per object; 32 in flight; 4 key ranges at once), into an empty table;
  then with ``--head``; then ``transact`` (100 items a TransactWriteItems, 2 write units each:
  AWS-like only, as moto copies the whole table for each item of a transaction);
  then once more over the filled table: no drift, so nothing but the listing and the catalog's
  Query pages should be sent.

Every run's AWS requests are counted (botocore ``before-send``) and priced in write units.

    .venv/bin/python -m bench.reconcile [--objects 20000] [--naive-sample 1000]
        [--fake-ms 10] [--fake-ms-per-kb 0.1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from bench.cpu import process_cpu
from bench.fake_aws import Delay, FakeWrites
from bucketsync.aws.clients import Clients
from bucketsync.aws.dynamo import ConditionalWriter
from bucketsync.aws.request_counter import RequestCounter
from bucketsync.aws.s3 import S3ObjectSource, state_from_head
from bucketsync.engine.stamp import ObservationClock
from bucketsync.engine.update import Update
from bucketsync.local.emulator import Emulator, emulator_settings
from bucketsync.reconcile.listing import S3Listing
from bucketsync.reconcile.run import Options, Reconciler
from bucketsync.reconcile.shards import plan
from bucketsync.settings import Settings
from bucketsync.sinks.catalog import CatalogSink
from bucketsync.sinks.catalog.item import current_item
from bucketsync.sinks.tables import table_definition

BUCKET = "bench-reconcile"
TARGET_RATIO = 20.0
TARGET_EXTRA_PER_1000 = 2.0
LISTING_AND_READS = frozenset({"s3.ListObjectsV2", "dynamodb.Query"})


@dataclass
class Run:
    name: str
    objects: int
    seconds: float
    requests: dict[str, int]
    write_units: int
    client_cpu: float
    emulator_cpu: float
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.objects / self.seconds if self.seconds else 0.0

    def per_1000(self, *, beyond: frozenset[str] = frozenset()) -> float:
        sent = sum(n for op, n in self.requests.items() if op not in beyond)
        return 1000 * sent / self.objects


def fill(clients: Clients, count: int) -> None:
    clients.s3.create_bucket(Bucket=BUCKET)

    def put(n: int) -> None:
        key = f"data/{n % 97:02d}/object-{n:06d}.json"
        clients.s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"n": %d}\n' % n)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(count)))


class Setting:
    """The clients one side runs with: counted, and AWS-like or not."""

    def __init__(self, settings: Settings, emulator_pid: int, aws_like: bool, args: Any) -> None:
        self.counter = RequestCounter()
        self.clients = Clients(settings, self.counter)
        self.fake = FakeWrites(args.fake_ms / 1000, args.fake_ms_per_kb / 1000)
        self.writer = self.clients.client("dynamodb", validate=False)
        if aws_like:
            for client in (self.clients.dynamodb, self.writer):
                events = client.meta.events
                events.register("before-send.dynamodb", cast(Any, self.fake))
                events.register("before-send.dynamodb.Query", Delay(args.fake_ms / 1000))
        self.aws_like = aws_like
        self.emulator_pid = emulator_pid
        self._tables = 0

    def table(self) -> str:
        self._tables += 1
        name = f"catalog-{'aws' if self.aws_like else 'raw'}-{self._tables}"
        self.clients.dynamodb.create_table(**table_definition(name))
        return name

    def measure(self, name: str, objects: int, work: Callable[[], dict[str, Any]]) -> Run:
        self.counter.reset()
        cpu, emulator = time.process_time(), process_cpu(self.emulator_pid)
        began = time.perf_counter()
        notes = work()
        seconds = time.perf_counter() - began
        counts = self.counter.snapshot()
        return Run(
            name,
            objects,
            seconds,
            counts,
            int(notes.get("write_units", 0)),
            time.process_time() - cpu,
            process_cpu(self.emulator_pid) - emulator,
            notes,
        )


def naive(setting: Setting, sample: int) -> Run:
    """List the bucket; HeadObject then PutItem per object, one at a time."""
    s3, dynamodb = setting.clients.s3, setting.clients.dynamodb
    table = setting.table()
    listed: list[str] = []

    def work() -> dict[str, Any]:
        began = time.perf_counter()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            listed.extend(obj["Key"] for obj in page.get("Contents", []))
        listing = time.perf_counter() - began
        began = time.perf_counter()
        for key in listed[:sample]:
            head = s3.head_object(Bucket=BUCKET, Key=key)
            update = Update(BUCKET, key, state_from_head(head), "", ())
            item = current_item(update, now=_now(), tombstone_ttl_seconds=0)
            dynamodb.put_item(TableName=table, Item=_typed(item))
        return {
            "listing_seconds": listing,
            "per_object_seconds": time.perf_counter() - began,
            "write_units": sample,  # one unconditional PutItem of under 1 KB each
        }

    run = setting.measure("naive loop (sample)", sample, work)
    # The listing served every object; charge the sample its share of it.
    share = run.notes["listing_seconds"] * sample / max(len(listed), 1)
    run.seconds = run.notes["per_object_seconds"] + share
    run.notes["listed"] = len(listed)
    return run


def bucketsync(
    setting: Setting, objects: int, name: str, *, table: str | None = None, **options: Any
) -> tuple[Run, str]:
    clients = setting.clients
    table = table or setting.table()
    transact = options.pop("transact", False)
    # As compose.reconcile_sinks builds it: its own client, parameters unvalidated.
    writer = ConditionalWriter(setting.writer, transact=transact, executor=ThreadPoolExecutor(32))
    sink = CatalogSink(writer, table, reader=clients.dynamodb)
    clock = ObservationClock()

    def work() -> dict[str, Any]:
        listing = S3Listing(clients.s3, BUCKET, clock=clock)
        reconciler = Reconciler(
            listing,
            [sink],
            options=Options(workers=32, parallel=4, batch=100 if transact else 25, **options),
            lookup=S3ObjectSource(clients.s3),
            clock=clock,
        )
        report = reconciler.run(plan(clients.s3, BUCKET, "", 4))
        drift = report.sinks["catalog"]
        assert not report.failed, report.errors[:3]
        # Catalog items are under 1 KB: 1 write unit each, 2 in a transaction.
        units = drift.repaired * (2 if transact else 1)
        return {"written": drift.repaired, "write_units": units, "drift": report.drift}

    run = setting.measure(name, objects, work)
    sink.close()
    return run, table


def _now() -> Any:
    from datetime import UTC, datetime  # noqa: PLC0415 - only the naive loop needs it

    return datetime.now(UTC)


def _typed(item: dict[str, Any]) -> dict[str, Any]:
    from bucketsync.aws.dynamo import serialize  # noqa: PLC0415

    return serialize(item)


def report(title: str, runs: list[Run]) -> None:
    naive_run = runs[0]
    print(f"\n### {title}\n")
    print(
        "| run | objects | seconds | objects/s | vs naive | requests / 1k objects "
        "| beyond listing + reads / 1k | write units | client CPU | emulator CPU |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(
            f"| {run.name} | {run.objects:,} | {run.seconds:.2f} | {run.rate:,.0f} | "
            f"{run.rate / naive_run.rate:.1f}x | {run.per_1000():,.1f} | "
            f"{run.per_1000(beyond=LISTING_AND_READS):,.2f} | {run.write_units:,} | "
            f"{run.client_cpu:.1f} s | {run.emulator_cpu:.1f} s |"
        )
    for run in runs:
        print(f"- {run.name}: {run.requests}")


def side(settings: Settings, pid: int, aws_like: bool, args: Any) -> list[Run]:
    setting = Setting(settings, pid, aws_like, args)
    runs = [naive(setting, args.naive_sample)]
    backfill, table = bucketsync(setting, args.objects, "bucketsync, empty catalog")
    runs.append(backfill)
    runs.append(bucketsync(setting, args.objects, "bucketsync --head, empty catalog", head=True)[0])
    if aws_like:  # moto copies the whole table for every item of a transaction: raw, it times out
        name = "bucketsync transact, empty catalog"
        runs.append(bucketsync(setting, args.objects, name, transact=True)[0])
    if aws_like:  # the fake stored nothing: the no-drift run reads a table the emulator filled
        table = f"catalog-raw-{args.filled_raw}"
    runs.append(bucketsync(setting, args.objects, "bucketsync, no drift", table=table)[0])
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--naive-sample", type=int, default=1000)
    parser.add_argument("--fake-ms", type=float, default=10.0)
    parser.add_argument("--fake-ms-per-kb", type=float, default=0.1)
    args = parser.parse_args()
    args.filled_raw = 2  # the raw side's bucketsync backfill table (after the naive one)
    with Emulator() as emulator:
        settings = emulator_settings(emulator, max_pool_connections=64)
        began = time.perf_counter()
        fill(Clients(settings), args.objects)
        took = time.perf_counter() - began
        print(f"filled s3://{BUCKET} with {args.objects:,} objects in {took:.0f} s")
        raw = side(settings, emulator.pid, False, args)
        report("raw emulator", raw)
        aws = side(settings, emulator.pid, True, args)
        report(f"AWS-like DynamoDB ({args.fake_ms:g} ms + {args.fake_ms_per_kb:g} ms/KB)", aws)
    backfill = aws[1]
    ratio = backfill.rate / aws[0].rate
    extra = aws[-1].per_1000(beyond=LISTING_AND_READS)
    print(
        f"\ntargets: AWS-like backfill {ratio:.1f}x the naive loop "
        f"({'met' if ratio >= TARGET_RATIO else 'MISSED'}, target {TARGET_RATIO:g}x); "
        f"no drift: {extra:.2f} requests / 1k beyond the listing and the reads "
        f"({'met' if extra < TARGET_EXTRA_PER_1000 else 'MISSED'}, target < "
        f"{TARGET_EXTRA_PER_1000:g})"
    )


if __name__ == "__main__":
    main()
