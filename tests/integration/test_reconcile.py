"""``bucketsync reconcile`` on the emulator: backfill, a purged queue, events racing it, the
guards (--max-delete, no delete after a listing error) and resuming an interrupted run."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.awsrequest import AWSResponse
from tests.integration.inventory_reports import deliver
from typer.testing import CliRunner, Result

from bucketsync.aws.clients import Clients
from bucketsync.aws.dynamo import ConditionalWriter
from bucketsync.cli import app
from bucketsync.engine.stamp import ObservationClock
from bucketsync.local.emulator import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY
from bucketsync.local.stack import Stack, ensure_records_tables
from bucketsync.reconcile import catalog_fingerprints, compare, list_bucket
from bucketsync.reconcile.checkpoint import FileCheckpoints, run_signature
from bucketsync.reconcile.listing import S3Listing
from bucketsync.reconcile.run import Options, Reconciler
from bucketsync.reconcile.shards import Shard
from bucketsync.record_routes import parse_routes
from bucketsync.runtimes.build import build_worker
from bucketsync.settings import Settings
from bucketsync.sinks.catalog import CatalogSink
from bucketsync.sinks.catalog.reader import CatalogReader
from bucketsync.sinks.records.reader import RecordsReader

ROUTES = '[{"match": "data/*.jsonl", "table": "%s"}]'


def cli(settings: Settings, *args: str, env: dict[str, str] | None = None) -> Result:
    assert settings.endpoint_url
    return CliRunner().invoke(
        app,
        ["--endpoint-url", settings.endpoint_url, "--table", settings.table, *args],
        env={
            "BUCKETSYNC_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "BUCKETSYNC_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
            "COLUMNS": "200",
            **(env or {}),
        },
    )


@pytest.fixture(autouse=True)
def _cache_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI keeps checkpoints under $XDG_CACHE_HOME: a test's own, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def in_sync(clients: Clients, settings: Settings, bucket: str) -> Any:
    reader = CatalogReader(clients.dynamodb, settings.table)
    return compare(dict(list_bucket(clients.s3, bucket)), catalog_fingerprints(reader.list(bucket)))


def catalog(clients: Clients, settings: Settings, **kwargs: Any) -> CatalogSink:
    writer = ConditionalWriter(clients.dynamodb, transact=False)
    return CatalogSink(writer, settings.table, reader=clients.dynamodb, **kwargs)


def test_a_bucket_filled_before_notifications_is_backfilled_into_every_sink(
    settings: Settings, clients: Clients, stack: Stack, tmp_path: Path
) -> None:
    # GIVEN objects whose events never reached any sink (the queue purged: as if they were
    # there before the notification), a data file among them, a records rule and a mirror
    rows = f"{stack.table}-rows"
    ensure_records_tables(clients, parse_routes(ROUTES % rows))
    objects = {f"docs/{n:02d} é+.txt": f"doc {n}".encode() for n in range(8)}
    objects["data/orders.jsonl"] = b'{"id": 1}\n{"id": 2}\n'
    for key, body in objects.items():
        clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=body)
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)
    env = {"BUCKETSYNC_ROUTES": ROUTES % rows, "BUCKETSYNC_MIRROR_DIR": str(tmp_path / "m")}
    uri = f"s3://{stack.bucket}"
    # WHEN a dry run looks, then reconcile runs
    dry = cli(settings, "reconcile", uri, "--dry-run", "--json", env=env)
    real = cli(settings, "reconcile", uri, "--report", str(tmp_path / "r.json"), env=env)
    # THEN the dry run counts every object missing in every sink and exits 1 ...
    assert dry.exit_code == 1, dry.output
    found = json.loads(dry.stdout)
    assert {name: s["missing"] for name, s in found["sinks"].items()} == {
        "catalog": 9,
        "records": 1,
        "mirror": 9,
    }
    # ... and the run fills them all and exits 0
    assert real.exit_code == 0, real.output
    assert in_sync(clients, settings, stack.bucket).in_sync
    records = RecordsReader(clients.dynamodb, rows)
    assert [row["id"] for row in records.rows(stack.bucket, "data/orders.jsonl")] == [1, 2]
    assert (tmp_path / "m" / "docs" / "03 é+.txt").read_bytes() == b"doc 3"
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["sinks"]["catalog"]["repaired"] == 9 and report["in_sync"] is False
    # AND the catalog items say they came from the listing (no HeadObject was made)
    item = CatalogReader(clients.dynamodb, settings.table).get(stack.bucket, "data/orders.jsonl")
    assert item is not None and item["source"] == "listing" and "content_type" not in item
    # AND a second run finds everything equal
    again = cli(settings, "reconcile", uri, "--json", env=env)
    assert again.exit_code == 0 and json.loads(again.stdout)["drift"] == 0


def test_head_fills_content_type_and_metadata(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    clients.s3.put_object(
        Bucket=stack.bucket, Key="a.txt", Body=b"x", ContentType="text/plain", Metadata={"m": "1"}
    )
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)
    result = cli(settings, "reconcile", f"s3://{stack.bucket}", "--sink", "catalog", "--head")
    assert result.exit_code == 0, result.output
    item = CatalogReader(clients.dynamodb, settings.table).get(stack.bucket, "a.txt")
    assert item is not None
    assert (item["source"], item["content_type"], item["metadata"]) == (
        "head",
        "text/plain",
        {"m": "1"},
    )


def test_a_purged_queue_is_repaired(settings: Settings, clients: Clients, stack: Stack) -> None:
    # GIVEN a catalogued bucket, then changes whose events are purged with the queue
    worker = build_worker(settings, clients, queue_url=stack.queue_url, threads=1)
    for n in range(10):
        clients.s3.put_object(Bucket=stack.bucket, Key=f"k{n}", Body=b"v1")
    assert worker.drain().failed == 0
    for n in range(10, 15):
        clients.s3.put_object(Bucket=stack.bucket, Key=f"k{n}", Body=b"new")
    clients.s3.put_object(Bucket=stack.bucket, Key="k3", Body=b"v2")
    clients.s3.delete_object(Bucket=stack.bucket, Key="k4")
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)
    drift = in_sync(clients, settings, stack.bucket)
    assert (len(drift.missing), drift.extra, drift.different) == (5, ["k4"], ["k3"])
    # WHEN reconcile runs on the catalog
    result = cli(settings, "reconcile", f"s3://{stack.bucket}", "--sink", "catalog", "--json")
    # THEN it repairs exactly that drift
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)["sinks"]["catalog"]
    assert (counts["missing"], counts["stale"], counts["phantom"]) == (5, 1, 1)
    assert in_sync(clients, settings, stack.bucket).in_sync


def test_max_delete_stops_before_the_limit_is_crossed(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    worker = build_worker(settings, clients, queue_url=stack.queue_url, threads=1)
    for n in range(6):
        clients.s3.put_object(Bucket=stack.bucket, Key=f"k{n}", Body=b"v")
    assert worker.drain().failed == 0
    for n in range(4):
        clients.s3.delete_object(Bucket=stack.bucket, Key=f"k{n}")
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)
    result = cli(settings, "reconcile", f"s3://{stack.bucket}", "--max-delete", "2", "--json")
    assert result.exit_code == 2, result.output
    counts = json.loads(result.stdout)["sinks"]["catalog"]
    assert (counts["phantom"], counts["repaired"], counts["not_deleted"]) == (4, 2, 2)
    assert len(in_sync(clients, settings, stack.bucket).extra) == 2


def failing_list_after(clients: Clients, pages: int) -> None:
    """ListObjectsV2 answers 500 from page ``pages + 1`` on (no retries: max_attempts=1)."""
    calls: list[int] = []

    def answer(**_: Any) -> AWSResponse | None:
        calls.append(1)
        if len(calls) <= pages:
            return None
        body = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
        return AWSResponse("http://x", 500, {}, _Raw(body))  # type: ignore[arg-type]

    clients.s3.meta.events.register("before-send.s3.ListObjectsV2", cast(Any, answer))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body


@pytest.fixture
def once(settings: Settings) -> Clients:
    """Clients that never retry, so an injected 500 is the answer."""
    return Clients(settings.override(max_attempts=1))


def test_no_delete_after_an_injected_listing_error(
    settings: Settings, clients: Clients, once: Clients, stack: Stack
) -> None:
    # GIVEN a catalog with phantoms at the start and the end of the key space, and stale items
    sink = catalog(once, settings)
    clock = ObservationClock()
    for n in range(12):
        clients.s3.put_object(Bucket=stack.bucket, Key=f"k{n:02d}", Body=b"v1")
    Reconciler(S3Listing(once.s3, stack.bucket, clock=clock), [sink], clock=clock).run()
    for key in ("k00", "k11"):
        clients.s3.delete_object(Bucket=stack.bucket, Key=key)
    clients.s3.put_object(Bucket=stack.bucket, Key="k01", Body=b"v2")
    # WHEN the listing fails on its third page
    failing_list_after(once, pages=2)
    source = S3Listing(once.s3, stack.bucket, clock=clock, page_size=3)
    report = Reconciler(source, [sink], clock=clock).run()
    # THEN what was listed before the error is repaired, and nothing at all is deleted
    assert report.exit_code() == 2
    assert report.deletes_refused and "InternalError" in report.deletes_refused
    drift = in_sync(clients, settings, stack.bucket)
    assert drift.different == [] and drift.extra == ["k00", "k11"]
    sink.close()


def test_an_interrupted_run_resumes_where_it_stopped(
    settings: Settings, clients: Clients, once: Clients, stack: Stack, tmp_path: Path
) -> None:
    for n in range(20):
        clients.s3.put_object(Bucket=stack.bucket, Key=f"k{n:02d}", Body=b"v")
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)
    sink = catalog(once, settings)
    clock = ObservationClock()
    checkpoints = FileCheckpoints(tmp_path / "checkpoint.json", "test")
    # GIVEN a run that broke on its fourth page of five
    failing_list_after(once, pages=3)
    broken = S3Listing(once.s3, stack.bucket, clock=clock, page_size=4)
    first = Reconciler(broken, [sink], checkpoints=checkpoints, clock=clock).run()
    assert first.exit_code() == 2 and first.position == "k11"
    # WHEN it is resumed (the listing healthy again)
    listing = S3Listing(clients.s3, stack.bucket, clock=clock, page_size=4)
    second = Reconciler(listing, [sink], checkpoints=checkpoints, clock=clock).run(resume=True)
    # THEN it lists only what is after the checkpoint, and the catalog ends equal
    assert (second.resumed_from, second.listed, second.exit_code()) == ("k11", 8, 0)
    assert in_sync(clients, settings, stack.bucket).in_sync
    sink.close()


def test_a_live_event_landing_during_a_reconcile_wins(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN a worker applying events, and a catalog that lost some
    worker = build_worker(settings, clients, queue_url=stack.queue_url, threads=1)
    for n in range(9):
        clients.s3.put_object(Bucket=stack.bucket, Key=f"k{n}", Body=b"v1")
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        landed: list[str] = []

        def overwrite(**_: Any) -> None:
            # Once the first page (k0..k2) is listed: k1 changes, and its event is applied
            # before the reconcile's repair of k1 (from the older listing) can land.
            if landed:
                return
            etag = clients.s3.put_object(Bucket=stack.bucket, Key="k1", Body=b"newer")["ETag"]
            landed.append(etag.strip('"'))
            reader = CatalogReader(clients.dynamodb, settings.table)
            while (item := reader.get(stack.bucket, "k1")) is None or item["etag"] != landed[0]:
                stop.wait(0.05)

        clients.s3.meta.events.register("after-call.s3.ListObjectsV2", overwrite)
        clock = ObservationClock()
        source = S3Listing(clients.s3, stack.bucket, clock=clock, page_size=3)
        sink = catalog(clients, settings)
        report = Reconciler(source, [sink], options=Options(workers=2), clock=clock).run()
        sink.close()
    finally:
        stop.set()
        thread.join()
    # THEN the event's newer state stands, and the catalog equals the bucket
    assert report.exit_code() == 0, report.errors
    item = CatalogReader(clients.dynamodb, settings.table).get(stack.bucket, "k1")
    assert item is not None and item["etag"] == landed[0] and item["source"] == "event"
    assert in_sync(clients, settings, stack.bucket).in_sync


def test_an_inventory_report_stands_in_for_the_listing(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN a bucket whose events were lost, and an inventory report of it in AWS's layout
    # (moto stores the inventory configuration but never delivers a report: the test does)
    objects = {f"inv/{n:02d} +é.txt": f"object {n}".encode() for n in range(6)}
    for key, body in objects.items():
        clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=body)
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)
    destination = f"{stack.bucket[:50]}-inv"
    clients.s3.create_bucket(Bucket=destination)
    delivered = deliver(clients.s3, stack.bucket, destination, objects)
    # WHEN reconcile reads the report instead of listing the bucket
    result = cli(
        settings,
        "reconcile",
        f"s3://{stack.bucket}",
        "--sink",
        "catalog",
        "--inventory",
        delivered.uri,
        "--json",
    )
    # THEN the catalog is filled from it, every item saying so
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert (found["source"], found["listed"], found["sinks"]["catalog"]["repaired"]) == (
        "inventory",
        6,
        6,
    )
    assert in_sync(clients, settings, stack.bucket).in_sync
    items = CatalogReader(clients.dynamodb, settings.table).list(stack.bucket)
    assert {item["source"] for item in items} == {"inventory"}
    # AND a report of another bucket is refused, with exit code 2
    other = cli(settings, "reconcile", "s3://another-bucket", "--inventory", delivered.uri)
    assert other.exit_code == 2 and "not s3://another-bucket" in other.output


def test_the_cli_keeps_a_checkpoint_and_resumes_from_it(
    settings: Settings, clients: Clients, stack: Stack, tmp_path: Path
) -> None:
    # GIVEN a checkpoint left by an interrupted run: the first shard done up to "k04"
    for n in range(10):
        clients.s3.put_object(Bucket=stack.bucket, Key=f"k{n:02d}", Body=b"v")
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)
    path = tmp_path / "checkpoint.json"
    signature = run_signature(stack.bucket, "", ["catalog"], "listing")
    FileCheckpoints(path, signature).save({Shard("", None).id: ("k04", False)})
    uri = f"s3://{stack.bucket}"
    # WHEN the CLI resumes it
    result = cli(
        settings,
        "reconcile",
        uri,
        "--sink",
        "catalog",
        "--checkpoint",
        str(path),
        "--resume",
        "--shards",
        "1",
        "--json",
    )
    # THEN it lists only the keys after the checkpoint, and marks the run finished
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["resumed_from"], report["listed"], report["position"]) == ("k04", 5, None)
    saved = json.loads(path.read_text())
    assert saved["shards"] == {} and saved["listed"] == 5
    # AND a checkpoint of another run is refused rather than applied
    other = cli(settings, "reconcile", f"{uri}/k0", "--checkpoint", str(path), "--resume")
    assert other.exit_code == 2 and "another run" in other.output
