"""Loading a 1 GB JSON Lines file: bucketsync's streaming ``FileLoader`` vs a naive loader.

A seeded generator uploads ``--size-mb`` of JSON Lines (rows of ``--row-bytes``: an id, strings,
floats, a 31-digit integer, a nullable field, a nested object, a list, padded by a text field)
to the emulator as a multipart upload built one 64 MB part at a time. Each side then runs in a
process of its own, so its peak RSS (VmHWM) is its own, not the generator's or moto's:

- bucketsync: ``FileLoader.load`` on the whole file (streamed GetObject, BatchWriteItem of 25,
  4 in flight, checkpoints); then the table is checked (item count, manifest, boundary rows).
- naive: the whole body read, ``.decode().splitlines()``, ``json.loads`` per line, one PutItem
  per row. At ~100 PutItem/s the whole file would take hours, so it runs on a sample object of
  ``--sample-rows`` rows of the same shape: its rows/s is measured there; its RSS for the whole
  file is projected (3x the file: bytes, decoded str and lines, all alive during splitlines).

Then both run again with DynamoDB's writes (BatchWriteItem, PutItem) answered by
``fake_aws.FakeWrites`` after 10 ms plus 0.1 ms per KB sent, everything else (S3, the
manifest's UpdateItems) still the emulator's: moto spends ~1.3 ms of one interpreter on each item
it stores, which caps any loader near 770 rows/s however it batches; AWS spreads a table over
partitions and charges time per request instead. This shows what the loader itself sustains.

    .venv/bin/python -m bench.records_load [--size-mb 1024] [--row-bytes 4096] [--sample-rows 2000]
        [--fake-ms 10] [--fake-ms-per-kb 0.1] [--fake-size-mb 256]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from bench.cpu import process_cpu
from bench.fake_aws import FakeWrites
from bucketsync.aws.clients import Clients
from bucketsync.aws.request_counter import RequestCounter
from bucketsync.engine.stamp import ObservationClock
from bucketsync.local.emulator import Emulator, emulator_settings, settings_for
from bucketsync.settings import Settings
from bucketsync.sinks.records.job import LoadOutcome
from bucketsync.sinks.records.layout import ROW_PREFIX, file_partition
from bucketsync.sinks.records.loader import FileLoader
from bucketsync.sinks.records.manifest import ManifestStore
from bucketsync.sinks.records.target import RESERVED, Target
from bucketsync.sinks.tables import table_definition

MB = 1024 * 1024
PART_BYTES = 64 * MB
TARGET_RSS_MB = 150.0
TARGET_RATIO = 10.0
ROOT = Path(__file__).resolve().parent.parent
_TEXT = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
    "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu order "
    "invoice refund shipment customer warehouse pallet carrier route depot priority"
)
WORDS = _TEXT.split()
CITIES = ("Lyon", "Zürich", "São Paulo", "Kraków", "Osaka", "Austin", "Nairobi", "Perth")


def rows(count: int, row_bytes: int, seed: int) -> Iterator[bytes]:
    """``count`` JSON Lines of ``row_bytes`` bytes each (padded by ``notes``); deterministic."""
    rng = random.Random(seed)
    filler = " ".join(rng.choices(WORDS, k=200_000))
    for i in range(count):
        row: dict[str, Any] = {
            "id": i,
            "uuid": f"{rng.getrandbits(128):032x}",
            "name": f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}",
            "email": f"{rng.choice(WORDS)}.{i}@example.com",
            "status": rng.choice(("active", "suspended", "closed")),
            "score": round(rng.uniform(0, 100), 3),
            "ratio": rng.random(),
            "balance": round(rng.uniform(-1e6, 1e6), 2),
            "big": 2**100 + rng.getrandbits(64),  # 31 digits: exact in DynamoDB, not in a float
            "active": rng.random() < 0.8,
            "referrer": None if rng.random() < 0.5 else f"ref-{rng.getrandbits(32):08x}",
            "created_at": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z",
            "address": {
                "street": f"{rng.randint(1, 999)} {rng.choice(WORDS).title()} Street",
                "city": rng.choice(CITIES),
                "zip": f"{rng.randint(0, 99999):05d}",
                "geo": {"lat": round(rng.uniform(-90, 90), 6), "lon": rng.uniform(-180, 180)},
            },
            "tags": rng.sample(WORDS, rng.randint(1, 6)),
            "notes": "",
        }
        size = len(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()) + 1
        start = rng.randrange(len(filler) - row_bytes)
        row["notes"] = filler[start : start + max(0, row_bytes - size)]
        yield json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def upload(s3: Any, bucket: str, key: str, lines: Iterator[bytes]) -> int:
    """A multipart upload built one part at a time: at most one part in memory. Bytes sent."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts: list[dict[str, Any]] = []
    part, total = bytearray(), 0

    def send() -> None:
        number = len(parts) + 1
        answer = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(part)
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        part.clear()

    for line in lines:
        part += line
        total += len(line)
        if len(part) >= PART_BYTES:
            send()
    if part or not parts:
        send()
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    return total


# -- the two loaders, each run in a process of its own ----------------------------------------


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM, Linux). Not ``ru_maxrss``: Linux carries that across
    exec, so a child started by subprocess would report its parent's peak as its own."""
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(f.split()[1]) for f in status if f.startswith("VmHWM:")) / 1024


def load_bucketsync(spec: dict[str, Any], clients: Clients) -> dict[str, Any]:
    loader = FileLoader(clients.s3, clients.dynamodb)
    started = time.perf_counter()
    stamp = ObservationClock().stamp()
    report = loader.load(Target(spec["table"]), spec["bucket"], spec["key"], stamp)
    assert report.outcome == LoadOutcome.APPLIED, report
    return {"rows": report.rows, "bad": report.bad, "seconds": time.perf_counter() - started}


def load_naive(spec: dict[str, Any], clients: Clients) -> dict[str, Any]:
    s3, dynamodb, serializer = clients.s3, clients.dynamodb, TypeSerializer()
    bucket, key, table = spec["bucket"], spec["key"], spec["table"]
    s3.head_object(Bucket=bucket, Key=key)  # the clients warmed up: what follows is the reads'
    ready = peak_rss_mb()
    started = time.perf_counter()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    lines = body.decode().splitlines()
    read = peak_rss_mb()
    for index, line in enumerate(lines):
        row = json.loads(line, parse_float=Decimal)
        item = {"pk": file_partition(bucket, key), "sk": f"{ROW_PREFIX}{index:012d}", **row}
        dynamodb.put_item(
            TableName=table, Item={n: serializer.serialize(v) for n, v in item.items()}
        )
    seconds = time.perf_counter() - started
    return {"rows": len(lines), "bad": 0, "seconds": seconds, "ready": ready, "read": read}


def child() -> None:
    """A measured process: argv is (side, spec as JSON); prints its figures as JSON."""
    side, spec = sys.argv[1], json.loads(sys.argv[2])
    imported, counter, cpu = peak_rss_mb(), RequestCounter(), time.process_time()
    clients = Clients(Settings(), counter)  # BUCKETSYNC_* from the parent: the emulator
    fake = None
    if spec.get("fake_ms"):
        fake = FakeWrites(spec["fake_ms"] / 1e3, spec["fake_ms_per_kb"] / 1e3)
        # The stubs say handlers return None; botocore sends a before-send handler's response.
        clients.dynamodb.meta.events.register("before-send", fake)  # type: ignore[arg-type]
    result = (load_bucketsync if side == "bucketsync" else load_naive)(spec, clients)
    result |= {"imported": imported, "peak": peak_rss_mb(), "requests": counter.snapshot()}
    if fake is not None:
        result["faked"] = {"requests": fake.requests, "items": fake.items}
    result["cpu"] = time.process_time() - cpu  # this process's CPU seconds, after imports
    print(json.dumps(result))


def measure(emulator: Emulator, side: str, **spec: Any) -> dict[str, Any]:
    server_cpu = process_cpu(emulator.pid)
    done = subprocess.run(
        [sys.executable, "-c", "import bench.records_load as m; m.child()", side, json.dumps(spec)],
        cwd=ROOT,
        env={**os.environ, **settings_for(emulator)},
        stdout=subprocess.PIPE,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.decode().splitlines()[-1])
    return result | {"mb": spec["bytes"] / MB, "server": process_cpu(emulator.pid) - server_cpu}


# -- checks and report ------------------------------------------------------------------------


def check(dynamodb: Any, table: str, *, bucket: str, key: str, count: int, first: bytes) -> str:
    """The table holds the file's rows and its manifest, nothing else; first row as written.
    Counted by ItemCount, which moto keeps live: moto sorts the whole table for each 1 MB page
    of a Query, so a Select=COUNT Query of a 1 GB file's partition would take hours there."""
    items = dynamodb.describe_table(TableName=table)["Table"]["ItemCount"]
    manifest = ManifestStore(dynamodb, table).read(bucket, key)
    deserialize = TypeDeserializer().deserialize

    def row(index: int) -> dict[str, Any] | None:
        ids = {"pk": {"S": file_partition(bucket, key)}, "sk": {"S": f"{ROW_PREFIX}{index:012d}"}}
        item = dynamodb.get_item(TableName=table, Key=ids, ConsistentRead=True).get("Item")
        return item and {n: deserialize(v) for n, v in item.items() if n not in RESERVED}

    expected = json.loads(first, parse_float=Decimal)
    ok = (
        items == count + 1
        and manifest is not None
        and (manifest.status, manifest.rows, manifest.bad) == ("complete", count, 0)
        and row(0) == expected  # nulls included, stored as NULL
        and row(count - 1) is not None
        and row(count) is None
    )
    status = (manifest.status, manifest.rows) if manifest else None
    return f"{items:,} items (rows + manifest), manifest {status}: {'OK' if ok else 'WRONG'}"


def line(name: str, r: dict[str, Any]) -> str:
    cpu = f"{r['cpu'] * 1e3 / r['rows']:.2f}/{r['server'] * 1e3 / r['rows']:.2f}"
    return (
        f"  {name:22} {r['rows']:>9,} {r['mb']:>8.1f} {r['seconds']:>8.1f} "
        f"{r['rows'] / r['seconds']:>7,.0f} {r['peak']:>9.1f} {r['imported']:>8.1f} {cpu:>10}  "
        f"{r['requests']}"
    )


def report_fake(spec: str, ours: dict[str, Any], naive: dict[str, Any]) -> None:
    print(f"DynamoDB writes answered by FakeWrites ({spec}); S3 and the manifest: the emulator")
    print(
        f"  {'':22} {'rows':>9} {'MB':>8} {'seconds':>8} {'rows/s':>7} {'peak RSS':>9} "
        f"{'imports':>8} {'CPU ms/row':>10}  requests"
    )
    print(line("bucketsync FileLoader", ours))
    print(line("naive, on the sample", naive))
    for name, r in (("bucketsync", ours), ("naive", naive)):
        faked = r["faked"]
        print(f"  {name}: {faked['items']:,} items in {faked['requests']:,} faked write requests")
    ratio = (ours["rows"] / ours["seconds"]) / (naive["rows"] / naive["seconds"])
    print(
        f"rows/s with AWS-like write latency, bucketsync / naive: {ratio:.1f}x (target >= "
        f"{TARGET_RATIO:g}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'})"
    )


def report(count: int, ours: dict[str, Any], naive: dict[str, Any]) -> None:
    ours_rate, naive_rate = ours["rows"] / ours["seconds"], naive["rows"] / naive["seconds"]
    print(
        f"  {'':22} {'rows':>9} {'MB':>8} {'seconds':>8} {'rows/s':>7} {'peak RSS':>9} "
        f"{'imports':>8} {'CPU ms/row':>10}  requests"
    )
    print(line("bucketsync FileLoader", ours))
    print(line("naive, on the sample", naive))
    print(
        "  (peak RSS: VmHWM of the loading process, MB; imports: its RSS after imports; "
        "CPU ms/row: the loading process / the emulator)"
    )
    # During splitlines the body's bytes, the decoded str and the lines are all alive: each is
    # about the file's size (Latin-1 text: one byte a character), so the peak is 3x the file.
    held = (naive["read"] - naive["ready"]) / naive["mb"]
    print(
        f"  naive on the {ours['mb']:,.0f} MB file, projected (NOT run): {count:,} PutItem at "
        f"{naive_rate:,.0f} rows/s = {count / naive_rate / 3600:.1f} h; peak RSS >= "
        f"{naive['ready'] + 3 * ours['mb']:,.0f} MB = {naive['ready']:.0f} MB (clients ready) + "
        f"3 x the file (body bytes + decoded str + its lines); the sample's read phase held "
        f"{held:.2f} MB per MB"
    )
    ratio = ours_rate / naive_rate
    print(
        f"rows/s, bucketsync / naive: {ratio:.1f}x (target >= {TARGET_RATIO:g}x: "
        f"{'met' if ratio >= TARGET_RATIO else 'NOT met'})"
    )
    print(
        f"bucketsync peak RSS: {ours['peak']:.1f} MB (target < {TARGET_RSS_MB:g} MB: "
        f"{'met' if ours['peak'] < TARGET_RSS_MB else 'NOT met'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=1024, help="the file bucketsync loads")
    parser.add_argument("--row-bytes", type=int, default=4096, help="bytes per line")
    parser.add_argument("--sample-rows", type=int, default=2000, help="the naive loader's file")
    parser.add_argument("--fake-ms", type=float, default=10, help="FakeWrites base; 0: no run")
    parser.add_argument("--fake-ms-per-kb", type=float, default=0.1, help="FakeWrites per KB")
    parser.add_argument("--fake-size-mb", type=float, default=256, help="file for that run")
    args = parser.parse_args()
    count = math.ceil(args.size_mb * MB / args.row_bytes)
    bucket, key, sample_key = "bench-records", f"rows-{args.size_mb:g}mb.jsonl", "sample.jsonl"
    with Emulator() as emulator:
        setup = Clients(emulator_settings(emulator))
        setup.s3.create_bucket(Bucket=bucket)
        for table in ("records-bucketsync", "records-naive"):
            setup.dynamodb.create_table(**table_definition(table))
        print(f"uploading {count:,} generated rows of {args.row_bytes:,} bytes", flush=True)
        started = time.perf_counter()
        size = upload(setup.s3, bucket, key, rows(count, args.row_bytes, seed=1))
        sample = upload(setup.s3, bucket, sample_key, rows(args.sample_rows, args.row_bytes, 2))
        print(
            f"  {size / MB:,.1f} MB, and a {args.sample_rows:,}-row sample of {sample / MB:.1f}"
            f" MB, in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        ours = measure(
            emulator, "bucketsync", bucket=bucket, key=key, table="records-bucketsync", bytes=size
        )
        print(f"  bucketsync loaded in {ours['seconds']:.0f} s", flush=True)
        naive = measure(
            emulator, "naive", bucket=bucket, key=sample_key, table="records-naive", bytes=sample
        )
        first = next(rows(count, args.row_bytes, seed=1))
        verdict = check(
            setup.dynamodb, "records-bucketsync", bucket=bucket, key=key, count=count, first=first
        )
        if args.fake_ms:
            fake = {"fake_ms": args.fake_ms, "fake_ms_per_kb": args.fake_ms_per_kb}
            fake_count = math.ceil(args.fake_size_mb * MB / args.row_bytes)
            fake_key = f"rows-{args.fake_size_mb:g}mb.jsonl"
            fake_size = upload(setup.s3, bucket, fake_key, rows(fake_count, args.row_bytes, 3))
            setup.dynamodb.create_table(**table_definition("records-fake"))
            ours_fake = measure(
                emulator,
                "bucketsync",
                bucket=bucket,
                key=fake_key,
                table="records-fake",
                bytes=fake_size,
                **fake,
            )
            naive_fake = measure(
                emulator,
                "naive",
                bucket=bucket,
                key=sample_key,
                table="records-fake",
                bytes=sample,
                **fake,
            )
    report(count, ours, naive)
    print(f"check, bucketsync's table: {verdict}")
    if args.fake_ms:
        spec = f"{args.fake_ms:g} ms + {args.fake_ms_per_kb:g} ms/KB sent"
        report_fake(spec, ours_fake, naive_fake)
        assert ours_fake["faked"]["items"] == ours_fake["rows"] == fake_count, ours_fake


if __name__ == "__main__":
    main()
