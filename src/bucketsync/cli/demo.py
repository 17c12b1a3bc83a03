"""``make demo``: the whole event path on the embedded emulator, scripted and checked.

Uploads tricky keys, overwrites one, deletes one, sends a malformed message, loads a CSV
file's rows into a table and then a changed version of it, mirrors everything into a local
directory served over HTTP (the sync service) and fetches a file from it, then shows the
catalog and checks that it, and the mirror, equal the bucket. Exit status 0 only if
everything converged.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from bucketsync.api import create_app
from bucketsync.api.service import service_parts
from bucketsync.aws.clients import Clients
from bucketsync.aws.request_counter import RequestCounter
from bucketsync.cli.catalog import render
from bucketsync.compose import listed_sinks
from bucketsync.local.emulator import Emulator, emulator_settings
from bucketsync.local.server_thread import serving
from bucketsync.local.stack import (
    Stack,
    StackNames,
    ensure_records_tables,
    ensure_stack,
    queue_counts,
)
from bucketsync.reconcile import catalog_fingerprints, compare, list_bucket
from bucketsync.reconcile.listing import S3Listing
from bucketsync.reconcile.report import Report
from bucketsync.reconcile.run import Options, ReconciledSink, Reconciler
from bucketsync.record_routes import load_routes
from bucketsync.runtimes.build import build_worker
from bucketsync.sinks.catalog.reader import CatalogReader
from bucketsync.sinks.mirror import MirrorSink, local_path
from bucketsync.sinks.records.reader import RecordsReader

TRICKY_KEYS = {
    "reports/2026/11/summary report.txt": (b"Q4 numbers, first draft\n", "text/plain"),
    "a+b=c & d.txt": (b"plus, equals, ampersand and spaces\n", "text/plain"),
    "caf\u00e9/men\u00fc \u2014 \u65e5\u672c.json": (
        b'{"dish": "cr\xc3\xaape"}\n',
        "application/json",
    ),
    "deep/1/2/3/4/5/6/7/8/leaf.csv": (b"id,name\n1,leaf\n", "text/csv"),
    "percent%20not-decoded-twice.txt": (b"%20 stays %20\n", "text/plain"),
}
SHOWN = ("object_key", "size", "etag", "content_type", "event_type")
ORDERS = "data/2026/11/orders.csv"
ORDERS_V1 = b"id,item,qty,price\n1,apple,3,0.50\n2,pear,1,0.75\n3,fig,many,1.20\n4,plum,6,0.30\n"
ORDERS_V2 = b"id,item,qty,price\n1,apple,5,0.50\n2,pear,1,0.80\n"
ROWS_TABLE = "bucketsync-demo-rows"
ROUTES = [
    {
        "match": "data/**/*.csv",
        "table": ROWS_TABLE,
        "csv": {"column_types": {"id": "int", "qty": "int", "price": "decimal"}},
    }
]
OVERWRITTEN = "reports/2026/11/summary report.txt"
DELETED = "a+b=c & d.txt"
SERVED = "docs/welcome note.txt"
SERVED_BODY = b"Hello from the mirror: this file came S3 -> SQS -> worker -> disk -> HTTP.\n"


@dataclass
class Demo:
    console: Console
    clients: Clients
    stack: Stack
    reader: CatalogReader
    mirror: MirrorSink
    service: str  # the sync service's base URL
    sinks: list[ReconciledSink]  # the worker's own sinks, which reconcile repairs

    @property
    def bucket(self) -> str:
        return self.stack.names.bucket

    def catalog(self) -> dict[str, tuple[int | None, str | None]]:
        return catalog_fingerprints(self.reader.list(self.bucket))

    def listing(self) -> dict[str, tuple[int | None, str | None]]:
        return dict(list_bucket(self.clients.s3, self.bucket))

    def wait(self, what: str, done: Callable[[], bool], timeout: float = 60.0) -> None:
        started = time.monotonic()
        with self.console.status(what):
            while not done():
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"timed out after {timeout:.0f}s: {what}")
                time.sleep(0.1)
        self.console.print(f"  [green]✓[/] {what} ({time.monotonic() - started:.2f}s)")

    def dlq_depth(self) -> int:
        return queue_counts(self.clients, self.stack.dlq_url)[0]

    def mirrored(self) -> dict[str, int]:
        """The mirror's files, by key, with their sizes on disk (what it should hold)."""
        files = {}
        for entry in self.mirror.store.entries(limit=100_000):
            path = local_path(self.mirror.root, entry.key)
            if path.is_file():
                files[entry.key] = path.stat().st_size
        return files

    def mirror_equals_bucket(self) -> bool:
        return self.mirrored() == {key: size for key, (size, _) in self.listing().items()}

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.service + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status), answer.read()


def run(console: Console | None = None) -> int:
    console = console or Console()
    console.print(
        Panel.fit(
            "bucketsync demo: S3 → SQS → worker → DynamoDB and a local mirror, on a local emulator"
        )
    )
    mirror_dir = Path(tempfile.mkdtemp(prefix="bucketsync-demo-mirror-"))
    try:
        return _run(console, mirror_dir)
    finally:
        shutil.rmtree(mirror_dir, ignore_errors=True)


def _run(console: Console, mirror_dir: Path) -> int:
    with Emulator() as emulator:
        console.print(f"emulator (moto server) listening on [bold]{emulator.endpoint_url}[/]")
        settings = emulator_settings(
            emulator,
            table="bucketsync-demo",
            write_mode="single",
            ordering="observed",  # the emulator's: docs/ordering.md
            routes=json.dumps(ROUTES),
            mirror_dir=str(mirror_dir),
            periodic_sync=False,
        )
        clients = Clients(settings)
        counter = RequestCounter()  # counts the worker's requests only
        stack = ensure_stack(clients, StackNames.named("bucketsync-demo"))
        console.print(
            f"bucket [bold]{stack.names.bucket}[/], queue → DLQ after 3 receives, "
            f"table [bold]{settings.table}[/]"
        )
        ensure_records_tables(clients, load_routes(settings.routes, None))
        counted = Clients(settings, counter)
        # One mirror, fed by the worker's engine and served by the service.
        parts = service_parts(settings, counted)
        engine, mirror = parts.engine, parts.mirror
        worker = build_worker(
            settings, counted, queue_url=stack.queue_url, threads=2, engine=engine
        )
        app = create_app(settings, parts=parts)
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), name="demo-worker")
        thread.start()
        try:
            with serving(app) as port:
                service = f"http://127.0.0.1:{port}"
                console.print(f"sync service on [bold]{service}[/] (docs at {service}/docs)")
                reader = CatalogReader(clients.dynamodb, settings.table)
                sinks = listed_sinks(engine)
                demo = Demo(console, clients, stack, reader, mirror, service, sinks)
                ok = _scenario(demo, counter)
        finally:
            stop.set()
            thread.join()
            engine.close()
    console.print(
        f"worker: received {worker.stats.received} messages, applied {worker.stats.succeeded}, "
        f"failed {worker.stats.failed}"
    )
    return 0 if ok else 1


def _loaded(records: RecordsReader, bucket: str, etag: str) -> bool:
    manifest = records.manifest(bucket, ORDERS)
    return manifest is not None and manifest.status == "complete" and manifest.raw["etag"] == etag


def _rows_table(records: RecordsReader, bucket: str) -> Table:
    manifest = records.manifest(bucket, ORDERS)
    assert manifest is not None
    title = f"generation {manifest.gen}: {manifest.rows} rows, {manifest.bad} bad"
    table = Table("id", "item", "qty", "price", title=title)
    for row in records.rows(bucket, ORDERS):
        table.add_row(*(str(row.get(column, "")) for column in ("id", "item", "qty", "price")))
    for error in manifest.errors:
        table.add_row("", f"[red]line {error['line']}: {error['reason']}[/]", "", "")
    return table


DELETED_LATER = "deep/1/2/3/4/5/6/7/8/leaf.csv"


def _lose_events(demo: Demo) -> list[str]:
    """Changes made while the bucket's notification is off (a misconfiguration for an hour):
    no event is sent for them, so only reconcile can see them."""
    s3, bucket = demo.clients.s3, demo.bucket
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    lost = ["lost/while the notification was off.txt", "lost/another one.txt"]
    for key in lost:
        s3.put_object(Bucket=bucket, Key=key, Body=b"no event was sent for this\n")
    s3.delete_object(Bucket=bucket, Key=DELETED_LATER)
    ensure_stack(demo.clients, demo.stack.names)  # the notification back, as it was
    return lost


def _reconcile(demo: Demo, *, dry_run: bool) -> Report:
    listing = S3Listing(demo.clients.s3, demo.bucket)
    with demo.console.status("reconciling" if not dry_run else "looking for drift"):
        return Reconciler(listing, demo.sinks, options=Options(dry_run=dry_run)).run()


def _lost_and_repaired(demo: Demo) -> bool:
    console = demo.console
    console.rule("7. events lost for a while, repaired by reconcile")
    lost = ", ".join(map(repr, _lose_events(demo)))
    console.print(f"  notification off: put {lost}, deleted {DELETED_LATER!r}")
    found = _reconcile(demo, dry_run=True)
    console.print(f"  reconcile --dry-run: {_drift_line(found)}")
    repaired = _reconcile(demo, dry_run=False)
    console.print(f"  reconcile: {_drift_line(repaired)}, exit code {repaired.exit_code()}")
    return repaired.exit_code() == 0 and _reconcile(demo, dry_run=True).drift == 0


def _drift_line(report: Report) -> str:
    parts = []
    for name, drift in report.sinks.items():
        found = f"{drift.missing} missing, {drift.stale} stale, {drift.phantom} phantom"
        parts.append(
            f"{name}: {found}" + (f", {drift.repaired} repaired" if drift.repaired else "")
        )
    return "; ".join(parts)


def _scenario(demo: Demo, counter: RequestCounter) -> bool:
    console, s3, bucket = demo.console, demo.clients.s3, demo.bucket
    console.rule("1. upload objects with tricky keys")
    for key, (body, content_type) in TRICKY_KEYS.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        console.print(f"  put {key!r}")
    demo.wait("every upload is in the catalog", lambda: demo.catalog() == demo.listing())

    console.rule("2. overwrite one")
    s3.put_object(
        Bucket=bucket,
        Key=OVERWRITTEN,
        Body=b"Q4 numbers, final, with corrections\n",
        ContentType="text/plain",
    )
    demo.wait("the overwrite replaced its item", lambda: demo.catalog() == demo.listing())

    console.rule("3. delete one")
    s3.delete_object(Bucket=bucket, Key=DELETED)
    demo.wait("the delete left a tombstone", lambda: DELETED not in demo.catalog())

    console.rule("4. a malformed message")
    demo.clients.sqs.send_message(QueueUrl=demo.stack.queue_url, MessageBody='{"Records": [oops')
    console.print("  sent '{\"Records\": [oops' to the queue")
    demo.wait("it ended in the DLQ, alone", lambda: demo.dlq_depth() == 1)

    console.rule("5. a data file's rows, then a changed version of it")
    records = RecordsReader(demo.clients.dynamodb, ROWS_TABLE)
    for body, note in ((ORDERS_V1, "4 rows, one with qty 'many'"), (ORDERS_V2, "2 rows")):
        etag = s3.put_object(Bucket=bucket, Key=ORDERS, Body=body)["ETag"].strip('"')
        console.print(f"  put {ORDERS!r} ({note})")
        demo.wait(
            f"its rows are in table {ROWS_TABLE}",
            functools.partial(_loaded, records, bucket, etag),
        )
        console.print(_rows_table(records, bucket))

    console.rule("6. the local mirror, served over HTTP")
    s3.put_object(Bucket=bucket, Key=SERVED, Body=SERVED_BODY, ContentType="text/plain")
    console.print(f"  put {SERVED!r}")
    target = local_path(demo.mirror.root, SERVED)
    demo.wait(f"it arrived in the mirror at {target}", target.is_file)
    path = "/api/v1/download/" + urllib.parse.quote(SERVED)
    status, body = demo.get(path)
    console.print(f"  GET {path} → {status}: {body.decode().strip()!r}")
    status, head = demo.get(path, {"Range": "bytes=0-4"})
    console.print(f"  GET {path} with Range: bytes=0-4 → {status}: {head!r}")
    served = body == SERVED_BODY and status == 206 and head == SERVED_BODY[:5]
    demo.wait("the mirror equals the bucket", demo.mirror_equals_bucket)

    reconciled = _lost_and_repaired(demo)
    return _verdict(demo, counter, served=served, reconciled=reconciled)


def _verdict(demo: Demo, counter: RequestCounter, *, served: bool, reconciled: bool) -> bool:
    console, bucket = demo.console, demo.bucket
    console.rule("the catalog")
    items = list(demo.reader.list(bucket, include_deleted=True))
    console.print(render(items, f"catalog of s3://{bucket} (table {demo.reader.table})", SHOWN))
    drift = compare(demo.listing(), demo.catalog())
    requests = Table("AWS requests the worker made", "count")
    for name, count in counter.snapshot().items():
        requests.add_row(name, str(count))
    console.print(requests)
    if not served:
        console.print("[bold red]✗ the file served over HTTP differs from the upload[/]")
        return False
    if not reconciled:
        console.print("[bold red]✗ reconcile did not make every sink equal the bucket[/]")
        return False
    if drift.in_sync:
        console.print("[bold green]✓ catalog equals bucket[/] (tombstone shown struck through)")
        console.print(f"[bold green]✓ mirror equals bucket[/] ({len(demo.mirrored())} files)")
        return True
    console.print(f"[bold red]✗ drift[/]: {drift}")
    return False
