"""Convergence under at-least-once, out-of-order, concurrent delivery (property-based).

Each example is a random history of creates, overwrites and deletes on a small key space.
Events are emitted as the history runs, delivered duplicated and shuffled, some while the
history is still running (so HeadObject may see states newer than the event), in batches,
by several threads. Whatever happens: once delivery stops, the sink equals the bucket.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given, settings
from hypothesis import strategies as st

from bucketsync.engine.pipeline import Engine, Message
from bucketsync.events import Change
from bucketsync.sinks.memory import MemorySink
from tests.unit.fakes import BUCKET, FakeBucket, to_body

KEYS = st.sampled_from(["a", "b", "dir/c d.txt", "é+ü"])
OPS = st.lists(
    st.tuples(KEYS, st.one_of(st.none(), st.binary(min_size=0, max_size=4))),
    min_size=1,
    max_size=30,
)  # (key, None) deletes; (key, body) creates or overwrites


def run_history(
    bucket: FakeBucket, ops: list[tuple[str, bytes | None]], rng: random.Random
) -> tuple[list[Change], list[list[Change]]]:
    """Run the history; deliver some events mid-way. Returns (all events, early batches)."""
    emitted: list[Change] = []
    early: list[list[Change]] = []
    for key, body in ops:
        emitted.append(bucket.delete(key) if body is None else bucket.put(key, body))
        if rng.random() < 0.3:  # a delivery happens while the history goes on
            early.append(rng.sample(emitted, k=min(len(emitted), rng.randint(1, 3))))
    return emitted, early


def deliveries(emitted: list[Change], rng: random.Random) -> list[list[Change]]:
    """Every event at least once, some up to three times, shuffled, in batches of 1..10."""
    copies = [c for c in emitted for _ in range(rng.choice([1, 1, 2, 3]))]
    rng.shuffle(copies)
    batches = []
    while copies:
        size = rng.randint(1, 10)
        batches.append(copies[:size])
        copies = copies[size:]
    return batches


def apply_batches(engine: Engine, batches: list[list[Change]], threads: int) -> None:
    def deliver(batch: list[Change]) -> None:
        messages = [Message(str(i), to_body(c)) for i, c in enumerate(batch)]
        report = engine.process_messages(messages)
        assert not report.failures, report.failures

    if threads == 1:
        for batch in batches:
            deliver(batch)
        return
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(deliver, batches))


def current_view(sink: MemorySink) -> dict[str, tuple[int | None, str | None]]:
    return {key: (s.size, s.etag) for key, s in sink.current(BUCKET).items()}


@settings(max_examples=150, deadline=None)
@given(
    ops=OPS,
    seed=st.integers(0, 2**32 - 1),
    with_sequencers=st.booleans(),
    lean=st.booleans(),
    threads=st.sampled_from([1, 4]),
)
def test_sink_converges_to_the_bucket(
    ops: list[tuple[str, bytes | None]],
    seed: int,
    with_sequencers: bool,
    lean: bool,
    threads: int,
) -> None:
    # GIVEN a bucket history, with or without S3 sequencers
    rng = random.Random(seed)
    bucket = FakeBucket(with_sequencers=with_sequencers)
    sink = MemorySink()
    engine = Engine(bucket, [sink], lean=lean, executor=ThreadPoolExecutor(4))
    emitted, early = run_history(bucket, ops, rng)
    # WHEN early deliveries and then every event (duplicated, shuffled, concurrent) are applied
    apply_batches(engine, early, threads=1)
    apply_batches(engine, deliveries(emitted, rng), threads=threads)
    # THEN the sink holds exactly what the bucket holds
    assert current_view(sink) == bucket.view()
    engine.close()


@settings(max_examples=60, deadline=None)
@given(ops=OPS, seed=st.integers(0, 2**32 - 1), with_sequencers=st.booleans())
def test_duplicates_are_harmless(
    ops: list[tuple[str, bytes | None]], seed: int, with_sequencers: bool
) -> None:
    # GIVEN a converged sink
    rng = random.Random(seed)
    bucket = FakeBucket(with_sequencers=with_sequencers)
    sink = MemorySink()
    engine = Engine(bucket, [sink], executor=ThreadPoolExecutor(2))
    emitted, _ = run_history(bucket, ops, rng)
    apply_batches(engine, deliveries(emitted, rng), threads=1)
    before = current_view(sink)
    # WHEN any events are delivered again
    apply_batches(engine, deliveries(rng.sample(emitted, k=len(emitted) // 2 + 1), rng), 1)
    # THEN nothing changes
    assert current_view(sink) == before == bucket.view()
    engine.close()


@settings(max_examples=60, deadline=None)
@given(ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_an_older_change_never_overwrites_a_newer_one(
    ops: list[tuple[str, bytes | None]], seed: int
) -> None:
    # GIVEN events with sequencers, applied in a random order
    rng = random.Random(seed)
    bucket = FakeBucket(with_sequencers=True)
    sink = MemorySink()
    engine = Engine(bucket, [sink], lean=True, executor=ThreadPoolExecutor(2))
    emitted, _ = run_history(bucket, ops, rng)
    order = emitted[:]
    rng.shuffle(order)
    highest: dict[str, str] = {}
    for change in order:
        engine.process_changes([change])
        stored = sink.items[(BUCKET, change.key)].stamp
        # THEN after every step, each key holds the highest sequencer delivered so far
        mine = "S" + (change.sequencer or "").ljust(64, "0")
        highest[change.key] = max(highest.get(change.key, ""), mine)
        assert stored == highest[change.key]
    engine.close()


def test_concurrent_writers_on_one_key_converge() -> None:
    # GIVEN many threads hammering one key while it changes
    bucket = FakeBucket(with_sequencers=False)
    sink = MemorySink()
    engine = Engine(bucket, [sink], executor=ThreadPoolExecutor(8))
    stop = threading.Event()
    events: list[Change] = []

    def writer() -> None:
        for i in range(200):
            events.append(bucket.put("hot", str(i).encode()) if i % 7 else bucket.delete("hot"))
        stop.set()

    def reader() -> None:
        while not stop.is_set():
            if events:
                engine.process_changes([events[-1]])

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # WHEN the last event is delivered (as S3 always does, at least once)
    engine.process_changes([events[-1]])
    # THEN the sink shows the final state
    assert current_view(sink) == bucket.view()
    engine.close()
