"""ConditionalWriter's request plan, with botocore's Stubber injecting DynamoDB's answers.

The emulator never cancels a transaction for throttling and never returns UnprocessedItems,
so those paths are driven here with injected responses.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from bucketsync.aws.dynamo import ConditionalPut, ConditionalWriter
from bucketsync.errors import ConfigurationError, SinkWriteError


def puts(n: int) -> list[ConditionalPut]:
    return [
        ConditionalPut(
            "t",
            {"pk": "p", "sk": f"k{i}", "rev": "S1"},
            "#rev < :rev",
            {"#rev": "rev"},
            {":rev": "S1"},
        )
        for i in range(n)
    ]


def cancelled(stub: Stubber, *codes: str) -> None:
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        http_status_code=400,
        modeled_fields={"CancellationReasons": [{"Code": c} for c in codes]},
    )


def transact_ok(stub: Stubber, n: int) -> None:
    stub.add_response(
        "transact_write_items",
        {},
        {"TransactItems": [ANY] * n},
    )


def writer(client: Any) -> ConditionalWriter:
    return ConditionalWriter(client, sleep=lambda _: None)


def test_one_item_is_a_plain_put(client: Any, stub: Stubber) -> None:
    # A transaction costs two write units; a single conditional PutItem costs one.
    stub.add_response("put_item", {})
    assert writer(client).write(puts(1)) == [True]


def test_a_batch_is_one_transaction(client: Any, stub: Stubber) -> None:
    transact_ok(stub, 3)
    assert writer(client).write(puts(3)) == [True, True, True]


def test_cancelled_transaction_settles_failed_conditions_and_resends_the_rest(
    client: Any, stub: Stubber
) -> None:
    # GIVEN a transaction whose second item's condition fails
    cancelled(stub, "None", "ConditionalCheckFailed", "None")
    transact_ok(stub, 2)
    # WHEN written
    results = writer(client).write(puts(3))
    # THEN the failed condition is a settled "stale", the others went out again and landed
    assert results == [True, False, True]


def test_persistent_throttling_falls_back_to_one_put_per_item(client: Any, stub: Stubber) -> None:
    # GIVEN transactions that keep being cancelled for throttling
    w = ConditionalWriter(client, max_rounds=2, sleep=lambda _: None)
    cancelled(stub, "ThrottlingError", "None")
    cancelled(stub, "ThrottlingError", "None")
    # WHEN written, each item then gets its own PutItem and its own answer
    stub.add_response("put_item", {})
    stub.add_client_error("put_item", service_error_code="ConditionalCheckFailedException")
    assert w.write(puts(2)) == [True, False]


def test_validation_error_is_pinned_to_the_bad_item(client: Any, stub: Stubber) -> None:
    stub.add_client_error("transact_write_items", service_error_code="ValidationException")
    stub.add_response("put_item", {})
    stub.add_client_error("put_item", service_error_code="ValidationException", service_message="x")
    results = writer(client).write(puts(2))
    assert results[0] is True
    assert isinstance(results[1], SinkWriteError)


def test_missing_table_is_a_configuration_error(client: Any, stub: Stubber) -> None:
    stub.add_client_error("transact_write_items", service_error_code="ResourceNotFoundException")
    with pytest.raises(ConfigurationError):
        writer(client).write(puts(2))


def test_more_than_100_items_are_split_into_transactions(client: Any, stub: Stubber) -> None:
    transact_ok(stub, 100)
    transact_ok(stub, 5)
    assert writer(client).write(puts(105)) == [True] * 105


def test_single_mode_sends_one_conditional_put_per_item(client: Any, stub: Stubber) -> None:
    # GIVEN single mode: no transactions, each item answers for itself
    w = ConditionalWriter(client, transact=False, sleep=lambda _: None)
    stub.add_response("put_item", {})
    stub.add_client_error("put_item", service_error_code="ConditionalCheckFailedException")
    stub.add_client_error("put_item", service_error_code="ValidationException")
    results = w.write(puts(3))
    assert results[:2] == [True, False]
    assert isinstance(results[2], Exception)
    stub.assert_no_pending_responses()


def test_single_mode_runs_puts_concurrently_on_the_executor() -> None:
    # GIVEN a client whose PutItem blocks until four calls are in flight at once
    barrier = threading.Barrier(4, timeout=5)
    calls: list[dict[str, Any]] = []

    class Client:
        def put_item(self, **request: Any) -> dict[str, Any]:
            calls.append(request)
            barrier.wait()  # raises BrokenBarrierError if the puts ran one by one
            return {}

    with ThreadPoolExecutor(4) as pool:
        w = ConditionalWriter(Client(), transact=False, executor=pool)  # type: ignore[arg-type]
        assert w.write(puts(4)) == [True, True, True, True]
    assert all("ConditionExpression" in c for c in calls)
