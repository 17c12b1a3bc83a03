"""BatchWriter's request plan and retries.

Stubber checks the exact requests (it is strict about order, so those tests use ``in_flight=1``);
a thread-safe fake client (``batch_writing.FakeTable``) drives connection errors.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from bucketsync.aws.batch_write import BATCH_LIMIT
from bucketsync.aws.dynamo import serialize
from bucketsync.errors import ConfigurationError, RetryableError, SinkWriteError, is_retryable
from tests.unit.batch_writing import TABLE, FakeTable, item, writer

BASE_DELAY = 0.05


@pytest.fixture
def sleeps() -> list[float]:
    return []


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
