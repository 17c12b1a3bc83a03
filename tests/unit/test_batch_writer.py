"""BatchWriter's request plan, retries and concurrency.

Stubber checks the exact requests (it is strict about order, so those tests use ``in_flight=1``);
a thread-safe fake client drives concurrency, connection errors and the property test.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from bucketsync.aws.batch_write import BATCH_LIMIT, BatchWriter
from bucketsync.aws.dynamo import serialize
from bucketsync.errors import ConfigurationError, RetryableError, SinkWriteError, is_retryable

TABLE = "t"
KEYS = ("pk", "sk")
BASE_DELAY = 0.05


@pytest.fixture
def sleeps() -> list[float]:
    return []


def writer(client: Any, sleeps: list[float] | None = None, **options: Any) -> BatchWriter:
    options.setdefault("in_flight", 1)
    options.setdefault("sleep", (sleeps if sleeps is not None else []).append)
    return BatchWriter(client, TABLE, key_attributes=KEYS, **options)


def item(i: int, **extra: Any) -> dict[str, Any]:
    return {"pk": "p", "sk": f"k{i}", **extra}


def put_request(i: int, **extra: Any) -> dict[str, Any]:
    return {"PutRequest": {"Item": serialize(item(i, **extra))}}


def delete_request(i: int) -> dict[str, Any]:
    return {"DeleteRequest": {"Key": serialize(item(i))}}


def expect(stub: Stubber, requests: list[dict[str, Any]], unprocessed: int | None = None) -> None:
    """One BatchWriteItem carrying exactly ``requests``; the first ``unprocessed`` come back."""
    response = {"UnprocessedItems": {TABLE: requests[:unprocessed]}} if unprocessed else {}
    stub.add_response("batch_write_item", response, {"RequestItems": {TABLE: requests}})


def refuse(stub: Stubber, code: str, n: int, status: int = 400) -> None:
    stub.add_client_error(
        "batch_write_item",
        service_error_code=code,
        http_status_code=status,
        expected_params={"RequestItems": {TABLE: [ANY] * n}},
    )


# --- the request plan -------------------------------------------------------------------------


def test_60_puts_go_out_as_25_25_10(client: Any, stub: Stubber) -> None:
    # GIVEN three batches' worth of answers
    expect(stub, [put_request(i) for i in range(25)])
    expect(stub, [put_request(i) for i in range(25, 50)])
    expect(stub, [put_request(i) for i in range(50, 60)])
    # WHEN 60 puts are submitted and flushed
    w = writer(client)
    for i in range(60):
        w.put(item(i))
    result = w.close()
    # THEN all 60 are written, in three calls
    assert (result.written, result.deleted, result.requests, result.failures) == (60, 0, 3, [])


def test_puts_and_deletes_share_a_call(client: Any, stub: Stubber) -> None:
    expect(stub, [put_request(0), delete_request(1), put_request(2), delete_request(3)])
    w = writer(client)
    w.put(item(0))
    w.delete({"pk": "p", "sk": "k1", "other": "ignored"})  # only the key attributes are sent
    w.put(item(2))
    w.delete(item(3))
    result = w.close()
    assert (result.written, result.deleted, result.requests) == (2, 2, 1)


def test_a_later_request_for_a_buffered_key_replaces_the_earlier_one(
    client: Any, stub: Stubber
) -> None:
    # GIVEN two puts and a delete of k0 and two puts of k1 in one buffer
    expect(stub, [delete_request(0), put_request(1, v=2)])
    w = writer(client)
    w.put(item(0, v=1))
    w.put(item(1, v=1))
    w.put(item(0, v=2))
    w.delete(item(0))
    w.put(item(1, v=2))
    # WHEN flushed, THEN one request per key, each the later one
    result = w.close()
    assert (result.written, result.deleted, result.replaced) == (1, 1, 3)


def test_a_full_buffer_is_sent_at_once(client: Any, stub: Stubber) -> None:
    # GIVEN 25 distinct keys, one of them put twice (replacements do not fill the buffer)
    expect(stub, [put_request(0, v=1)] + [put_request(i) for i in range(1, 25)])
    sent = threading.Event()
    stub.client.meta.events.register("after-call.dynamodb.BatchWriteItem", lambda **_: sent.set())
    w = writer(client)
    w.put(item(0))
    w.put(item(0, v=1))
    for i in range(1, 25):
        w.put(item(i))
    # THEN the batch goes out without waiting for a flush
    assert sent.wait(5)
    assert w.close().written == 25


def test_a_bad_row_is_a_failure_with_its_tag_not_an_exception(client: Any, stub: Stubber) -> None:
    expect(stub, [put_request(1)])
    w = writer(client)
    w.put(item(0, price=1.5), tag="float")  # DynamoDB numbers must be Decimal
    w.put({"pk": "p"}, tag="no sort key")
    w.delete({"pk": "p", "sk": ["k"]}, tag="list key")
    w.put(item(1))
    result = w.close()
    assert result.written == 1
    assert [f.tag for f in result.failures] == ["float", "no sort key", "list key"]
    assert all(isinstance(f.error, SinkWriteError) for f in result.failures)
    assert result.failures[1].key == {"pk": "p", "sk": None}


# --- retries ----------------------------------------------------------------------------------


def test_unprocessed_items_are_sent_again_alone_after_a_backoff(
    client: Any, stub: Stubber, sleeps: list[float]
) -> None:
    # GIVEN a first answer that leaves 5 of 10 items unprocessed
    requests = [put_request(i) for i in range(10)]
    expect(stub, requests, unprocessed=5)
    expect(stub, requests[:5])
    # WHEN flushed
    w = writer(client, sleeps, base_delay=BASE_DELAY)
    for i in range(10):
        w.put(item(i))
    result = w.close()
    # THEN the 5 went out again on their own, after a jittered backoff
    assert (result.written, result.requests, result.retried_items, result.failures) == (
        10,
        2,
        5,
        [],
    )
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= BASE_DELAY * 2


def test_backoff_grows_exponentially_with_full_jitter_up_to_max_delay(
    client: Any, stub: Stubber, sleeps: list[float]
) -> None:
    for _ in range(4):
        refuse(stub, "ProvisionedThroughputExceededException", 1)
    expect(stub, [put_request(0)])
    w = writer(client, sleeps, base_delay=1.0, max_delay=5.0, rng=lambda: 0.5)
    w.put(item(0))
    assert w.close().written == 1
    assert sleeps == [1.0, 2.0, 2.5, 2.5]  # min(5, 1 * 2**round) * 0.5


def test_items_still_unprocessed_after_max_rounds_are_failures_with_their_tags(
    client: Any, stub: Stubber, sleeps: list[float]
) -> None:
    # GIVEN 5 of 10 items that DynamoDB never processes
    requests = [put_request(i) for i in range(10)]
    expect(stub, requests, unprocessed=5)
    expect(stub, requests[:5], unprocessed=5)
    expect(stub, requests[:5], unprocessed=5)
    # WHEN flushed with three rounds allowed
    w = writer(client, sleeps, max_rounds=3)
    for i in range(10):
        w.put(item(i), tag=f"row {i}")
    result = w.close()
    # THEN the other 5 are written and those 5 are retryable failures, nothing lost
    assert (result.written, result.requests, result.retried_items) == (5, 3, 10)
    assert [f.tag for f in result.failures] == [f"row {i}" for i in range(5)]
    assert [f.key for f in result.failures] == [{"pk": "p", "sk": f"k{i}"} for i in range(5)]
    assert all(isinstance(f.error, RetryableError) for f in result.failures)
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ProvisionedThroughputExceededException", 400),
        ("ThrottlingException", 400),
        ("RequestLimitExceeded", 400),
        ("InternalServerError", 500),
    ],
)
def test_a_throttled_call_is_retried_then_succeeds(
    client: Any, stub: Stubber, sleeps: list[float], code: str, status: int
) -> None:
    refuse(stub, code, 3, status)
    expect(stub, [put_request(i) for i in range(3)])
    w = writer(client, sleeps)
    for i in range(3):
        w.put(item(i))
    result = w.close()
    assert (result.written, result.requests, result.retried_items, result.failures) == (
        3,
        2,
        3,
        [],
    )
    assert len(sleeps) == 1


def test_a_call_throttled_every_round_fails_its_items_as_retryable(
    client: Any, stub: Stubber
) -> None:
    for _ in range(3):
        refuse(stub, "ThrottlingException", 2)
    w = writer(client, max_rounds=3)
    w.put(item(0), tag="a")
    w.delete(item(1), tag="b")
    result = w.close()
    assert [(f.kind, f.tag) for f in result.failures] == [("put", "a"), ("delete", "b")]
    assert all(is_retryable(f.error) for f in result.failures)


def test_a_validation_error_is_pinned_to_the_bad_item(client: Any, stub: Stubber) -> None:
    # GIVEN a batch of 3 refused as invalid because of its second item
    refuse(stub, "ValidationException", 3)
    expect(stub, [put_request(0)])
    refuse(stub, "ValidationException", 1)
    expect(stub, [put_request(2)])
    # WHEN flushed
    w = writer(client)
    for i in range(3):
        w.put(item(i), tag=i)
    result = w.close()
    # THEN each item went out alone: the good two are written, the bad one is a failure
    assert (result.written, result.requests, result.retried_items) == (2, 4, 3)
    assert [f.tag for f in result.failures] == [1]
    assert isinstance(result.failures[0].error, SinkWriteError)
    assert not is_retryable(result.failures[0].error)


def test_a_missing_table_fails_the_batch_and_stops_the_producer(client: Any, stub: Stubber) -> None:
    refuse(stub, "ResourceNotFoundException", BATCH_LIMIT)
    w = writer(client)
    for i in range(BATCH_LIMIT):
        w.put(item(i))
    result = w.flush()
    assert len(result.failures) == BATCH_LIMIT
    assert all(isinstance(f.error, ConfigurationError) for f in result.failures)
    with pytest.raises(ConfigurationError):
        w.put(item(99))
    w.close()


class FakeTable:
    """A thread-safe BatchWriteItem over a dict; ``answers`` are consumed one per call:
    ``None`` refuses the call with ``error``, a list of booleans marks which requests (by
    position) come back unprocessed. Once they run out, every call succeeds."""

    def __init__(self, answers: list[list[bool] | None] | None = None) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.answers = list(answers or [])
        self.error: Exception = EndpointConnectionError(endpoint_url="http://dynamodb")
        self.calls = 0
        self.running = 0
        self.most_running = 0
        self.lock = threading.Lock()

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            self.hold()
            return self.apply(RequestItems[TABLE])
        finally:
            with self.lock:
                self.running -= 1

    def hold(self) -> None:
        """Overridden to block calls."""

    def apply(self, requests: list[dict[str, Any]]) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
            answer = self.answers.pop(0) if self.answers else []
            if answer is None:
                raise self.error
            left = [r for r, keep in zip(requests, answer, strict=False) if keep]
            for request in requests:
                if any(request is r for r in left):
                    continue
                if "PutRequest" in request:
                    body = request["PutRequest"]["Item"]
                    self.items[body["pk"]["S"], body["sk"]["S"]] = body
                else:
                    body = request["DeleteRequest"]["Key"]
                    self.items.pop((body["pk"]["S"], body["sk"]["S"]), None)
        return {"UnprocessedItems": {TABLE: left}} if left else {}


def test_a_connection_error_is_retried() -> None:
    table = FakeTable([None])
    w = writer(table)
    w.put(item(0))
    result = w.close()
    assert (result.written, result.requests, table.calls) == (1, 2, 2)
    assert table.items == {("p", "k0"): serialize(item(0))}


def test_an_unexpected_error_fails_its_batch_and_is_not_retried() -> None:
    table = FakeTable([None])
    table.error = RuntimeError("boom")
    w = writer(table)
    w.put(item(0), tag="a")
    result = w.close()
    assert (result.requests, [f.tag for f in result.failures]) == (1, ["a"])
    assert "boom" in str(result.failures[0].error)


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
