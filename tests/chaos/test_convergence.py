"""Chaos: random histories against concurrent workers, with duplicate and stale deliveries.

Over HTTP against the session's moto server: a seeded random history of creates, overwrites
and deletes runs on the bucket while two independent ``Worker`` instances (two threads each,
their own clients, engine and observation clock, like two deployments) poll the queue. On top
of moto's own notifications the test sends copies of earlier notification bodies, in moto's
shape: a re-sent old event is exactly what at-least-once, out-of-order delivery looks like.

moto's notifications carry no sequencer, so this exercises observation ordering (HeadObject
plus observation stamps, docs/ordering.md). The property checked is convergence: once the
queue is drained and the workers stopped, the catalog equals the bucket listing, and no
deleted key came back.

The history is reproducible from the seed printed in every assertion message (set
``CHAOS_SEED`` to replay it); the interleaving with the workers is not, by design.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote_plus

import pytest

from bucketsync.aws.clients import Clients
from bucketsync.compose import build_engine
from bucketsync.engine.ports import ObjectSource
from bucketsync.engine.state import ObjectState
from bucketsync.local.stack import Stack, queue_counts
from bucketsync.reconcile import Drift, Fingerprint, catalog_fingerprints, compare, list_bucket
from bucketsync.runtimes.worker import Worker, WorkerStats
from bucketsync.settings import Settings
from bucketsync.sinks.catalog.reader import CatalogReader

pytestmark = pytest.mark.integration

# Keys that exercise decoding: spaces ("+" on the wire), literal "+" ("%2B"), "/" (moto sends
# "%2F"), a literal "%", multi-byte UTF-8 (2, 3 and 4 bytes), URL syntax, a trailing "/".
KEYS = (
    "plain.txt",
    "with space.txt",
    "a+b.txt",
    "dir/sub dir/nested.bin",
    "ünï/cødé €.txt",
    "日本語/ファイル.txt",
    "100% done.csv",
    "x+y z/+lead",
    "emoji 🎉.txt",
    "q?hash#&eq=.txt",
    "a%2Bb literal.txt",
    "trailing/",
)
HISTORY_LENGTH = 150
WORKERS = 2
THREADS_PER_WORKER = 2
HOT_KEY = 0.6  # chance the next operation hits the same key again (bursts of overwrites)
SLOW_LOOKUPS = 0.25  # share of HeadObject answers held back before they are written
MAX_LOOKUP_DELAY_SECONDS = 0.5
DRAIN_DEADLINE_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 15.0


def chaos_seed() -> int:
    """``CHAOS_SEED`` from the environment (to replay a failure), else a fresh random seed."""
    raw = os.environ.get("CHAOS_SEED")
    return int(raw) if raw else random.SystemRandom().randrange(2**32)


# --- notification bodies in moto's shape ----------------------------------------------------


def moto_body(bucket: str, key: str, event_name: str, size: int, etag: str) -> str:
    """An SQS body exactly as moto 5.2.5 sends it: one record, key ``quote_plus``-encoded."""
    now = datetime.now(UTC)
    event_time = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": event_time,
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "bucketsync",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key), "size": size, "eTag": etag},
        },
    }
    return json.dumps({"Records": [record]})


def send_bodies(clients: Clients, queue_url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        answer = clients.sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
        )
        assert not answer.get("Failed"), answer


# --- the history ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A notification the bucket sent (or would have sent) for one operation."""

    key: str
    name: str
    size: int
    etag: str


@dataclass
class History:
    """What was done to the bucket: the expected final state and every event it caused."""

    seed: int
    expected: dict[str, Fingerprint] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    ever_created: set[str] = field(default_factory=set)
    duplicates_sent: int = 0
    operations: dict[str, int] = field(default_factory=dict)

    def count(self, operation: str) -> None:
        self.operations[operation] = self.operations.get(operation, 0) + 1


def run_history(
    clients: Clients, stack: Stack, rng: random.Random, history: History, *, duplicates: float
) -> None:
    """``HISTORY_LENGTH`` random operations; after each, with probability ``duplicates``, a
    copy of a random earlier event (possibly long superseded) is sent to the queue."""
    s3 = clients.s3
    key = rng.choice(KEYS)
    for _ in range(HISTORY_LENGTH):
        if rng.random() >= HOT_KEY:
            key = rng.choice(KEYS)
        exists = key in history.expected
        if exists and rng.random() < 0.35:
            size, etag = history.expected.pop(key)
            s3.delete_object(Bucket=stack.bucket, Key=key)
            history.events.append(Event(key, "ObjectRemoved:Delete", size or 0, etag or ""))
            history.count("delete")
        else:
            body = rng.randbytes(rng.randrange(0, 200))
            etag = hashlib.md5(body).hexdigest()
            s3.put_object(Bucket=stack.bucket, Key=key, Body=body)
            history.expected[key] = (len(body), etag)
            history.ever_created.add(key)
            history.events.append(Event(key, "ObjectCreated:Put", len(body), etag))
            history.count("overwrite" if exists else "create")
        if rng.random() < duplicates:
            old = rng.choice(history.events)
            send_bodies(
                clients,
                stack.queue_url,
                [moto_body(stack.bucket, old.key, old.name, old.size, old.etag)],
            )
            history.duplicates_sent += 1
        if rng.random() < 0.05:
            time.sleep(rng.uniform(0.0, 0.05))  # let the workers catch up now and then


# --- workers and the queue ------------------------------------------------------------------


class SlowSource:
    """Latency injection: some HeadObject answers are held back before the engine writes them.

    A held-back answer ages: the key may change and a newer state be written meanwhile, so its
    late write is the stale write the conditional put must reject (a GC pause or a slow network
    between lookup and write does the same in production). Without it, lookups are written
    within milliseconds and a last-writer-wins sink would pass these tests too.
    """

    def __init__(self, inner: ObjectSource, rng: random.Random) -> None:
        self._inner = inner
        self._rng = rng

    def lookup(self, bucket: str, key: str) -> ObjectState:
        state = self._inner.lookup(bucket, key)
        if self._rng.random() < SLOW_LOOKUPS:
            time.sleep(self._rng.uniform(0.0, MAX_LOOKUP_DELAY_SECONDS))
        return state


@contextmanager
def running_workers(settings: Settings, count: int, seed: int) -> Iterator[list[Worker]]:
    """``count`` independent workers polling in background threads; stopped on exit.

    Their HeadObject answers are randomly delayed (:class:`SlowSource`).

    On exit the stop event is set and every ``Worker.run`` must return (in-flight batches
    finish, long polls end within ``wait_time_seconds``) before ``STOP_DEADLINE_SECONDS``.
    """
    stop = threading.Event()
    workers: list[Worker] = []
    for n in range(count):
        clients = Clients(settings)  # like separate deployments: nothing shared but the queue
        assert settings.queue_url is not None
        engine = build_engine(settings, clients)
        engine.source = SlowSource(engine.source, random.Random(seed + n))
        workers.append(
            Worker(
                engine,
                clients.sqs,
                settings.queue_url,
                threads=THREADS_PER_WORKER,
                wait_time_seconds=1,
            )
        )
    threads = [
        threading.Thread(target=w.run, args=(stop,), name=f"chaos-worker-{n}", daemon=True)
        for n, w in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    try:
        yield workers
    finally:
        stop.set()
        deadline = time.monotonic() + STOP_DEADLINE_SECONDS
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for worker in workers:
            worker.engine.close()
        alive = [t.name for t in threads if t.is_alive()]
        assert not alive, f"workers did not stop within {STOP_DEADLINE_SECONDS}s: {alive}"


def wait_until_drained(clients: Clients, queue_url: str, seed: int) -> float:
    """Poll until nothing is waiting or in flight, twice in a row; return the seconds taken."""
    started = time.monotonic()
    deadline = started + DRAIN_DEADLINE_SECONDS
    empty_in_a_row = 0
    counts = (-1, -1)
    while time.monotonic() < deadline:
        counts = queue_counts(clients, queue_url)
        empty_in_a_row = empty_in_a_row + 1 if counts == (0, 0) else 0
        if empty_in_a_row == 2:
            return time.monotonic() - started
        time.sleep(0.2)
    pytest.fail(
        f"seed={seed}: queue not drained within {DRAIN_DEADLINE_SECONDS}s "
        f"(visible, in flight) = {counts}"
    )


# --- checks ---------------------------------------------------------------------------------


def catalog_drift(clients: Clients, stack: Stack) -> tuple[Drift, dict[str, Fingerprint]]:
    bucket = dict(list_bucket(clients.s3, stack.bucket))
    catalog = catalog_fingerprints(CatalogReader(clients.dynamodb, stack.table).list(stack.bucket))
    return compare(bucket, catalog), bucket


def describe(history: History, workers: list[Worker], drained_in: float) -> str:
    stats = WorkerStats()
    for worker in workers:
        stats.add(worker.stats)
    return (
        f"seed={history.seed} (replay: CHAOS_SEED={history.seed}); "
        f"operations={history.operations}, duplicates={history.duplicates_sent}, "
        f"received={stats.received}, applied={stats.succeeded}, failed={stats.failed}, "
        f"drained in {drained_in:.1f}s"
    )


def assert_converged(
    clients: Clients, stack: Stack, history: History, workers: list[Worker], drained_in: float
) -> None:
    context = describe(history, workers, drained_in)
    drift, bucket = catalog_drift(clients, stack)
    # The emulator did what the history says (guards the test itself, not the engine).
    assert bucket == history.expected, f"{context}: bucket differs from the history's model"
    assert drift.in_sync, f"{context}: catalog != bucket: {drift}"
    # No resurrection: every key that existed once and is gone now is a tombstone.
    reader = CatalogReader(clients.dynamodb, stack.table)
    for key in sorted(history.ever_created - bucket.keys()):
        item = reader.get(stack.bucket, key)
        assert item is not None and item["deleted"] is True, f"{context}: {key!r} -> {item}"
    # Nothing was dead-lettered and nothing failed: every delivery was applied or stale.
    dead = clients.sqs.receive_message(QueueUrl=stack.dlq_url, MaxNumberOfMessages=10)
    assert not dead.get("Messages"), f"{context}: DLQ holds {dead['Messages']}"
    assert all(w.stats.failed == 0 for w in workers), f"{context}: failed deliveries"


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_random_history_with_duplicates_converges_across_two_workers(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN two independent workers polling the stack's queue, and a seeded random history
    seed = chaos_seed()
    rng = random.Random(seed)
    history = History(seed)
    with running_workers(settings, WORKERS, seed) as workers:
        # WHEN ~150 creates/overwrites/deletes on 12 awkward keys run while they poll, with
        # copies of earlier notifications (duplicates, stale and out of order) mixed in
        run_history(clients, stack, rng, history, duplicates=0.3)
        # ... and the queue drains (nothing visible, nothing in flight) and the workers stop
        drained_in = wait_until_drained(clients, stack.queue_url, seed)
    # THEN the catalog equals the bucket listing, and deleted keys are tombstones
    assert history.duplicates_sent > 0
    assert_converged(clients, stack, history, workers, drained_in)


@pytest.mark.timeout(120)
def test_stale_event_storm_after_the_history_resurrects_nothing(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN two workers, and a random history (with some duplicates) performed while they poll
    seed = chaos_seed()
    rng = random.Random(seed)
    history = History(seed)
    with running_workers(settings, WORKERS, seed) as workers:
        run_history(clients, stack, rng, history, duplicates=0.1)
        # WHEN, right after it (the history's own events may still be in flight), a storm of
        # stale events arrives: creates of states since overwritten or deleted, and deletes
        # of keys that were created again afterwards
        stale = [
            event
            for event in history.events
            if (event.name.startswith("ObjectCreated") and event.key not in history.expected)
            or (
                event.name.startswith("ObjectCreated")
                and history.expected[event.key] != (event.size, event.etag)
            )
            or (event.name.startswith("ObjectRemoved") and event.key in history.expected)
        ]
        assert stale, f"seed={seed}: the history left nothing stale to replay"
        storm = [rng.choice(stale) for _ in range(150)]
        send_bodies(
            clients,
            stack.queue_url,
            [moto_body(stack.bucket, e.key, e.name, e.size, e.etag) for e in storm],
        )
        history.duplicates_sent += len(storm)
        drained_in = wait_until_drained(clients, stack.queue_url, seed)
    # THEN the catalog still equals the bucket: no deleted key is back, no present key is gone
    assert_converged(clients, stack, history, workers, drained_in)
