"""BatchWriter's concurrency, and the property test: the table ends as the operations applied
in order. A thread-safe fake client (``batch_writing.FakeTable``) drives both.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bucketsync.aws.batch_write import BATCH_LIMIT, BatchWriter
from bucketsync.aws.dynamo import serialize
from tests.unit.batch_writing import KEYS, TABLE, FakeTable, item, writer

# --- concurrency ------------------------------------------------------------------------------


def test_in_flight_batches_really_run_at_once() -> None:
    # GIVEN a table whose calls block until three are in flight together
    barrier = threading.Barrier(3, timeout=5)

    class Table(FakeTable):
        def hold(self) -> None:
            barrier.wait()  # BrokenBarrierError, a failure, if the calls ran one by one

    table = Table()
    # WHEN three batches are submitted with in_flight=3
    with writer(table, in_flight=3) as w:
        for i in range(3 * BATCH_LIMIT):
            w.put(item(i))
    # THEN they all ran at once and all landed
    assert w.final is not None
    assert (w.final.written, w.final.failures, table.most_running) == (75, [], 3)


class HeldTable(FakeTable):
    """Every call blocks until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def hold(self) -> None:
        assert self.release.wait(10), "never released"


def wait_until(condition: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_the_producer_blocks_while_in_flight_batches_are_pending() -> None:
    # GIVEN in_flight=2 and a table that holds every call
    table = HeldTable()
    w = writer(table, in_flight=2)
    submitted = 0
    done = threading.Event()

    def produce() -> None:
        nonlocal submitted
        for i in range(3 * BATCH_LIMIT):
            w.put(item(i))
            submitted += 1
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    # WHEN two batches are in flight, THEN the third batch's submission blocks
    wait_until(lambda: table.running == 2)
    assert not done.wait(0.2)
    assert submitted == 3 * BATCH_LIMIT - 1
    # AND when the table answers, it proceeds
    table.release.set()
    assert done.wait(5)
    producer.join()
    result = w.close()
    assert (result.written, result.requests, table.most_running) == (75, 3, 2)


def test_a_batch_waits_for_an_earlier_batch_holding_the_same_key() -> None:
    # GIVEN a first batch, held, that writes k0 = 1
    table = HeldTable()
    w = writer(table, in_flight=2)
    w.put(item(0, v=1))
    for i in range(1, BATCH_LIMIT):
        w.put(item(i))
    wait_until(lambda: table.running == 1)

    # WHEN a second batch writes k0 = 2
    def second_batch() -> None:
        w.put(item(0, v=2))
        for i in range(100, 124):
            w.put(item(i))

    producer = threading.Thread(target=second_batch)
    producer.start()
    # THEN it is not sent while the first is in flight, although a slot is free
    time.sleep(0.2)
    assert (table.running, producer.is_alive()) == (1, True)
    table.release.set()
    producer.join(5)
    result = w.close()
    assert result.written == 50
    assert table.items["p", "k0"] == serialize(item(0, v=2))


def test_context_manager_flushes_on_success_only() -> None:
    table = FakeTable()
    with writer(table) as w:
        w.put(item(0))
    assert w.final is not None
    assert w.final.written == 1
    with pytest.raises(RuntimeError, match="closed"):
        w.put(item(1))

    with pytest.raises(KeyError), writer(table) as failed:
        failed.put(item(2))
        raise KeyError("the caller's bug")
    assert failed.final is None
    assert ("p", "k2") not in table.items


def test_an_injected_executor_is_used_and_left_running() -> None:
    table = FakeTable()
    with ThreadPoolExecutor(2) as pool:
        with writer(table, executor=pool, in_flight=2) as w:
            w.put(item(0))
        assert pool.submit(lambda: 1).result() == 1
    assert w.final is not None
    assert w.final.written == 1


@pytest.mark.parametrize("options", [{"key_attributes": ()}, {"in_flight": 0}, {"max_rounds": 0}])
def test_nonsense_options_are_refused(options: dict[str, Any]) -> None:
    options = {"key_attributes": KEYS, **options}
    with pytest.raises(ValueError):
        BatchWriter(FakeTable(), TABLE, **options)  # type: ignore[arg-type]


# --- the property -----------------------------------------------------------------------------

# Long enough to fill several buffers of 25 distinct keys, so batches share keys.
OPS = st.lists(
    st.tuples(st.booleans(), st.integers(0, 29), st.integers(0, 3)),  # (put?, key, value)
    min_size=40,
    max_size=160,
)
ANSWERS = st.lists(st.one_of(st.none(), st.lists(st.booleans(), max_size=BATCH_LIMIT)), max_size=8)


def nap(_: float) -> None:
    time.sleep(0.0005)


@settings(max_examples=100, deadline=None)
@given(ops=OPS, answers=ANSWERS, in_flight=st.integers(1, 3))
def test_the_table_ends_as_the_operations_applied_in_order(
    ops: list[tuple[bool, int, int]], answers: list[list[bool] | None], in_flight: int
) -> None:
    # GIVEN a table that throttles some calls and leaves random items unprocessed
    table = FakeTable(answers)
    # WHEN random puts and deletes over a small key space are written and flushed
    # (a real, short backoff lets a later batch overtake an earlier one that is retrying)
    rounds = len(answers) + 2
    with writer(table, in_flight=in_flight, max_rounds=rounds, sleep=nap) as w:
        for put, k, value in ops:
            if put:
                w.put(item(k, v=Decimal(value)), tag=k)
            else:
                w.delete(item(k), tag=k)
    # THEN the table is what applying them in submission order gives, and the counts add up
    expected: dict[tuple[str, str], dict[str, Any]] = {}
    for put, k, value in ops:
        if put:
            expected["p", f"k{k}"] = serialize(item(k, v=Decimal(value)))
        else:
            expected.pop(("p", f"k{k}"), None)
    result = w.final
    assert result is not None
    assert table.items == expected
    assert result.failures == []
    assert result.written + result.deleted + result.replaced == len(ops)
