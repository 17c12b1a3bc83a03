"""Latency on the local stack: ``put_object`` returning → the catalog item readable with its ETag.

An uncounted client uploads ``--rate`` objects/s for ``--seconds`` s on a fixed schedule (~300-byte
bodies; ~20% overwrite keys untouched for 3 s) while the worker, as ``bucketsync local up`` runs
it (write_mode=single, 4 threads, 1 s long poll), runs in a background thread on a counted client.
Its SQS client, object source and sink are wrapped (src/ is unchanged) to stamp each upload's
unique ETag when received, looked up (HeadObject done) and written (the batch's conditional
writes acknowledged; with ConsistentRead that is when the item is readable). Every 20th upload
is also polled with GetItem every 10 ms; at the end the catalog is compared with the bucket. A
shorter write_mode=transact run follows, for comparison.

    .venv/bin/python -m bench.latency [--rate 20] [--seconds 60] [--transact-seconds 20]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.cpu import process_cpu
from bucketsync.aws.clients import Clients
from bucketsync.aws.request_counter import RequestCounter
from bucketsync.engine.ports import ObjectSource, Sink
from bucketsync.engine.state import ObjectState
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import MalformedEventError
from bucketsync.events import parse_message
from bucketsync.local.emulator import Emulator, emulator_settings
from bucketsync.local.stack import StackNames, ensure_stack
from bucketsync.reconcile import catalog_fingerprints, compare, list_bucket
from bucketsync.runtimes.build import build_worker
from bucketsync.sinks.catalog.reader import CatalogReader

TARGET_P99_MS = 250.0
SAMPLE_EVERY = 20
POLL_SECONDS = 0.01


class Timeline:
    """Per ETag, the first perf_counter time each stage saw it; thread-safe."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.looked_up: dict[str, float] = {}
        self.written: dict[str, float] = {}
        self._lock = threading.Lock()

    def mark(self, stage: dict[str, float], etag: str | None, at: float) -> None:
        with self._lock:
            if etag:
                stage.setdefault(etag, at)


class TimedSQS:
    """The worker's SQS client; ``receive_message`` stamps every ETag it delivers."""

    def __init__(self, sqs: Any, timeline: Timeline) -> None:
        self._sqs, self._timeline = sqs, timeline

    def receive_message(self, **kwargs: Any) -> Any:
        answer = self._sqs.receive_message(**kwargs)
        now = time.perf_counter()
        for message in answer.get("Messages", []):
            with contextlib.suppress(MalformedEventError):
                for change in parse_message(message.get("Body", "")):
                    self._timeline.mark(self._timeline.received, change.etag, now)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)


class TimedSource:
    def __init__(self, source: ObjectSource, timeline: Timeline) -> None:
        self._source, self._timeline = source, timeline

    def lookup(self, bucket: str, key: str) -> ObjectState:
        state = self._source.lookup(bucket, key)
        self._timeline.mark(self._timeline.looked_up, state.etag, time.perf_counter())
        return state


class TimedSink:
    """Stamps the ETag of every update the sink applied, when its ``apply`` returns."""

    def __init__(self, sink: Sink, timeline: Timeline) -> None:
        self._sink, self._timeline, self.name = sink, timeline, sink.name

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]:
        results = self._sink.apply(updates)
        now = time.perf_counter()
        for update, result in zip(updates, results, strict=True):
            if result is Outcome.APPLIED:
                self._timeline.mark(self._timeline.written, update.state.etag, now)
        return results

    def close(self) -> None:
        self._sink.close()


@dataclass
class Upload:
    key: str
    due: float = 0.0  # when the schedule starts this put
    etag: str = ""
    put_started: float = 0.0
    put_done: float = 0.0
    polled: tuple[float, float] | None = None  # poller: (last miss sent, hit answered)


@dataclass
class Run:
    label: str
    mode: str  # write_mode
    rate: float
    seconds: float
    threads: int
    wait: int


def plan_keys(n: int, rate: float, rng: random.Random) -> list[str]:
    """Fresh keys, and ~20% overwrites of keys nobody touched in the last 3 s."""
    keys: list[str] = []
    for i in range(n):
        old = i - int(3 * rate)
        key = keys[rng.randrange(old)] if old > 0 and rng.random() < 0.2 else ""
        keys.append(key if key and key not in keys[old:] else f"in/{i:06d}")
    return keys


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of seconds, in ms."""
    ordered = sorted(values)
    return 1000 * ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def row(name: str, values: Sequence[float]) -> str:
    if not values:
        return f"  {name:42} n=0"
    figures = "  ".join(f"p{p} {pct(values, p):6.1f}" for p in (50, 90, 99))
    return f"  {name:42} n={len(values):<5} {figures}  max {1000 * max(values):6.1f}"


def poll(reader: CatalogReader, bucket: str, upload: Upload, deadline: float) -> None:
    """ConsistentRead GetItem every POLL_SECONDS until the item shows this upload's ETag."""
    miss = upload.put_done
    while time.perf_counter() < deadline:
        sent = time.perf_counter()
        item = reader.get(bucket, upload.key)
        if item is not None and item.get("etag") == upload.etag:
            upload.polled = (miss, time.perf_counter())
            return
        miss = sent
        time.sleep(POLL_SECONDS)


def measure(
    run: Run, uploads: list[Upload], timeline: Timeline
) -> tuple[dict[str, int], list[str]]:
    """Upload on schedule to a fresh emulator; return the worker's requests and notes."""
    names = StackNames.named(f"bench-latency-{run.mode}")
    with Emulator() as emulator:
        settings = emulator_settings(emulator, table=names.table, write_mode=run.mode)
        settings = settings.override(worker_threads=run.threads, wait_time_seconds=run.wait)
        setup = Clients(settings)  # uncounted: uploads, poller, verification
        stack = ensure_stack(setup, names)
        setup.sqs.purge_queue(QueueUrl=stack.queue_url)  # the s3:TestEvent
        counter = RequestCounter()
        worker = build_worker(settings, Clients(settings, counter), queue_url=stack.queue_url)
        worker.sqs = TimedSQS(worker.sqs, timeline)  # type: ignore[assignment]
        worker.engine.source = TimedSource(worker.engine.source, timeline)
        worker.engine.sinks = [TimedSink(sink, timeline) for sink in worker.engine.sinks]
        stop = threading.Event()
        worker_thread = threading.Thread(target=worker.run, args=(stop,), name="latency-worker")
        worker_thread.start()
        reader = CatalogReader(setup.dynamodb, stack.table)
        pollers = ThreadPoolExecutor(8, thread_name_prefix="latency-poll")

        def put(i: int) -> None:
            upload = uploads[i]
            body = f"upload {i} of {upload.key} ".ljust(300, ".").encode()
            upload.put_started = time.perf_counter()
            answer = setup.s3.put_object(Bucket=stack.bucket, Key=upload.key, Body=body)
            upload.put_done = time.perf_counter()
            upload.etag = answer["ETag"].strip('"')
            if i % SAMPLE_EVERY == 0:
                pollers.submit(poll, reader, stack.bucket, upload, upload.put_done + 30)

        try:
            cpu = (process_cpu(emulator.pid), time.process_time(), time.perf_counter())
            start = time.perf_counter() + 0.5
            with ThreadPoolExecutor(4, thread_name_prefix="latency-put") as putters:
                puts: list[Future[None]] = []
                for i, upload in enumerate(uploads):
                    upload.due = start + i / run.rate
                    time.sleep(max(0.0, upload.due - time.perf_counter()))
                    puts.append(putters.submit(put, i))
            for future in puts:
                future.result()  # a failed upload fails the benchmark
            latest = {u.key: u.etag for u in uploads}  # an overwritten ETag may never be written
            awaited, deadline = set(latest.values()), time.perf_counter() + 60
            while time.perf_counter() < deadline and not awaited <= timeline.written.keys():
                time.sleep(0.1)
            wall = time.perf_counter() - cpu[2]
            moto, here = process_cpu(emulator.pid) - cpu[0], time.process_time() - cpu[1]
        finally:
            stop.set()
            pollers.shutdown(wait=True)
            worker_thread.join()
        bucket = dict(list_bucket(setup.s3, stack.bucket))
        catalog = catalog_fingerprints(reader.list(stack.bucket))
    in_sync = compare(bucket, catalog).in_sync and {k: v[1] for k, v in bucket.items()} == latest
    return counter.snapshot(), [
        f"CPU while uploading: moto server {100 * moto / wall:.0f}% of a core, "
        f"this process (uploader, worker, poller) {100 * here / wall:.0f}%",
        f"catalog equals bucket: {in_sync} ({len(catalog)} items, {len(latest)} keys uploaded)",
    ]


def report(run: Run, uploads: list[Upload], timeline: Timeline, requests: dict[str, int]) -> float:
    """Print one run's figures; return the end-to-end p99 in ms."""

    def spans(a: dict[str, float] | None, b: dict[str, float], among: list[Upload]) -> list[float]:
        return [
            b[u.etag] - (u.put_done if a is None else a[u.etag])
            for u in among
            if u.etag in b and (a is None or u.etag in a)
        ]

    got, seen, written = timeline.received, timeline.looked_up, timeline.written
    end_to_end = spans(None, written, uploads)
    sampled = [u for u in uploads[::SAMPLE_EVERY] if u.polled is not None]
    windows = [(u.polled[0] - u.put_done, u.polled[1] - u.put_done) for u in sampled if u.polled]
    print(
        f"== {run.label}: write_mode={run.mode}, {run.rate:g} uploads/s for {run.seconds:g} s, "
        f"worker threads={run.threads}, long poll={run.wait} s; "
        f"load average at end {os.getloadavg()[0]:.2f}"
    )
    print(
        f"  {len(uploads)} uploads to {len({u.key for u in uploads})} keys; put_object p50 "
        f"{pct([u.put_done - u.put_started for u in uploads], 50):.1f} ms; max lag behind "
        f"schedule {1000 * max(u.put_started - u.due for u in uploads):.1f} ms"
    )
    print("  latency in ms (nearest-rank percentiles)")
    print(row("end-to-end: put returned -> write acked", end_to_end))
    print(row("  queue wait: put returned -> received", spans(None, got, uploads)))
    print(row("  processing: received -> HeadObject done", spans(got, seen, uploads)))
    print(row("  writes: HeadObject done -> write acked", spans(seen, written, uploads)))
    # How far each instrumented time lies outside [last miss sent, hit answered]; 0: inside.
    outside = [
        max(0.0, lo - (written[u.etag] - u.put_done), (written[u.etag] - u.put_done) - hi)
        for u, (lo, hi) in zip(sampled, windows, strict=True)
        if u.etag in written
    ]
    print(
        f"  cross-check: every {SAMPLE_EVERY}th upload polled with GetItem every 10 ms; "
        f"instrumented time inside the poller's window: {outside.count(0.0)}/{len(windows)}"
        f" (outside by at most {1000 * max(outside, default=0.0):.1f} ms)"
    )
    print(row("  instrumented (as above)", spans(None, written, sampled)))
    print(row("  poller: hit answered (upper bound)", [hi for _, hi in windows]))
    print(row("  poller: last miss sent (lower bound)", [lo for lo, _ in windows]))
    print(f"  uploads whose ETag was never written: {sum(u.etag not in written for u in uploads)}")
    print("  worker AWS requests:")
    for operation, count in requests.items():
        print(f"    {operation:32} {count:6d}  ({count / len(uploads):.2f} per upload)")
    print(f"    {'total':32} {sum(requests.values()):6d}")
    return pct(end_to_end, 99) if end_to_end else math.inf


def bench(run: Run) -> float:
    keys = plan_keys(int(run.rate * run.seconds), run.rate, random.Random(23))
    uploads, timeline = [Upload(key) for key in keys], Timeline()
    requests, notes = measure(run, uploads, timeline)
    p99 = report(run, uploads, timeline, requests)
    verdict = "PASS" if p99 < TARGET_P99_MS else "FAIL"
    for note in notes:
        print(f"  {note}")
    print(f"  p99 {p99:.1f} ms vs target < {TARGET_P99_MS:.0f} ms: {verdict}", flush=True)
    return p99


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="uploads per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="main run (write_mode=single)")
    parser.add_argument("--transact-seconds", type=float, default=20.0, help="0 skips it")
    parser.add_argument("--threads", type=int, default=4, help="worker threads (local up: 4)")
    parser.add_argument("--wait", type=int, default=1, help="SQS long poll, s (local up: 1)")
    args = parser.parse_args()
    knobs = (args.rate, args.seconds, args.threads, args.wait)
    bench(Run("main run", "single", *knobs))
    if args.transact_seconds > 0:
        knobs = (args.rate, args.transact_seconds, args.threads, args.wait)
        bench(Run("comparison (shorter)", "transact", *knobs))


if __name__ == "__main__":
    main()
