"""bench/cost.py: DynamoDB item sizes and write units, and the cost arithmetic."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from bench.cost import (
    PRICES,
    PRICES_TAKEN,
    CostEstimate,
    WriteUnitCounter,
    estimate,
    format_table,
    item_size,
    write_units,
)
from botocore.stub import Stubber

TABLE = "catalog"


def small(i: int = 0) -> dict[str, Any]:
    return {"pk": {"S": "BUCKET#b"}, "sk": {"S": f"KEY#k{i}"}, "size": {"N": "12"}}


def test_item_size_follows_the_documented_rules() -> None:
    item: dict[str, dict[str, Any]] = {
        "pk": {"S": "BUCKET#b"},  # 2 + 8
        "size": {"N": "12345"},  # 4 + (3 for five digits + 1)
        "flag": {"BOOL": True},  # 4 + 1
        "none": {"NULL": True},  # 4 + 1
        "blob": {"B": b"\x00\x01\x02"},  # 4 + 3 raw bytes
        "tags": {"L": [{"S": "ab"}, {"N": "1"}]},  # 4 + 3 + (1 + 2) + (1 + 2)
        "meta": {"M": {"k": {"S": "v"}}},  # 4 + 3 + (1 + 1 + 1)
    }
    assert item_size(item) == 10 + 8 + 5 + 5 + 7 + 13 + 10


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ({"S": "é"}, 2),  # UTF-8 bytes, not characters
        ({"N": "0.0012"}, 2),  # leading zeroes do not count
        ({"N": "-100"}, 2),  # nor trailing ones
        ({"SS": ["a", "bc"]}, 3),
        ({"M": {}}, 3),
    ],
)
def test_value_sizes(value: dict[str, Any], size: int) -> None:
    assert item_size({"a": value}) == 1 + size


def test_write_units_without_a_client() -> None:
    assert write_units("GetItem", {"Key": small()}) == 0
    assert write_units("DeleteItem", {"Key": small()}) == 1
    assert write_units("UpdateItem", {"Key": small(), "ExpressionAttributeValues": {}}) == 1
    txn = [{"Delete": {"Key": small()}}, {"ConditionCheck": {"Key": small()}}]
    assert write_units("TransactWriteItems", {"TransactItems": txn}) == 4


@pytest.fixture
def dynamodb() -> Iterator[tuple[Any, Stubber, WriteUnitCounter]]:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    counter = WriteUnitCounter()
    counter.attach(client)
    with Stubber(client) as stubber:
        yield client, stubber, counter
        stubber.assert_no_pending_responses()


def test_counter_put_item(dynamodb: tuple[Any, Stubber, WriteUnitCounter]) -> None:
    client, stubber, counter = dynamodb
    big = {**small(), "data": {"S": "x" * 1500}}
    assert 1024 < item_size(big) <= 2048
    stubber.add_response("put_item", {})
    stubber.add_response("put_item", {})
    client.put_item(TableName=TABLE, Item=small())
    assert counter.units == 1
    client.put_item(TableName=TABLE, Item=big)
    assert counter.units == 3
    counter.reset()
    assert counter.units == 0


def test_counter_transaction_costs_two_per_item(
    dynamodb: tuple[Any, Stubber, WriteUnitCounter],
) -> None:
    client, stubber, counter = dynamodb
    stubber.add_response("transact_write_items", {})
    client.transact_write_items(
        TransactItems=[{"Put": {"TableName": TABLE, "Item": small(i)}} for i in range(3)]
    )
    assert counter.units == 6


def test_counter_batch_write(dynamodb: tuple[Any, Stubber, WriteUnitCounter]) -> None:
    client, stubber, counter = dynamodb
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}})
    stubber.add_response("get_item", {})
    client.batch_write_item(
        RequestItems={TABLE: [{"PutRequest": {"Item": small(i)}} for i in range(25)]}
    )
    client.get_item(TableName=TABLE, Key=small())  # reads cost no write units
    assert counter.units == 25


def test_estimate_scales_each_line_to_a_million_changes() -> None:
    cost = estimate(
        changes=1000,
        requests={"s3.HeadObject": 1000, "dynamodb.PutItem": 1000},
        write_units=1000,
        lambda_seconds=None,
    )
    # 1e6 HEADs per 1M changes at $0.0004 per 1,000
    assert cost.s3 == pytest.approx(1e6 * PRICES.s3_get_per_thousand / 1000)
    assert cost.dynamodb == pytest.approx(1e6 * PRICES.dynamodb_per_million_wru / 1e6)
    # S3's 1 send per change + Lambda's poller: 1 receive + 1 delete per batch of 10
    assert cost.sqs == pytest.approx(1.2 * PRICES.sqs_per_million_requests)
    assert cost.lambda_requests == pytest.approx(0.1 * PRICES.lambda_per_million_requests)
    assert cost.lambda_compute is None
    assert cost.total == pytest.approx(0.4 + 0.625 + 0.48 + 0.02)


def test_estimate_lambda_compute_and_counted_requests() -> None:
    cost = estimate(
        changes=1000,
        requests={
            "s3.GetObjectTagging": 500,  # GET class
            "s3.ListObjectsV2": 10,  # LIST class
            "s3.DeleteObject": 99,  # free
            "sqs.ReceiveMessage": 150,
            "sqs.DeleteMessageBatch": 100,
            "sqs.SendMessage": 1000,  # S3's sends, modelled already
        },
        write_units=0,
        lambda_seconds=2.0,
        memory_mb=512,
        invocations=400,
    )
    # 2 s x 0.5 GB per 1,000 changes = 1,000 GB-s per 1M changes
    assert cost.lambda_compute == pytest.approx(1000 * PRICES.lambda_gb_second)
    assert cost.lambda_requests == pytest.approx(0.4 * PRICES.lambda_per_million_requests)
    assert cost.sqs == pytest.approx(1.25 * PRICES.sqs_per_million_requests)
    assert cost.s3 == pytest.approx(
        1000 * (500 * PRICES.s3_get_per_thousand + 10 * PRICES.s3_put_list_per_thousand) / 1000
    )


def test_format_table_has_each_column_and_the_date() -> None:
    seed = CostEstimate(None, 0.02, 0.48, 0.625, 0.4)
    ours = CostEstimate(0.0083, 0.02, 0.48, 1.25, 0.4)
    text = format_table({"seed-style": seed, "bucketsync": ours, "bucketsync lean": ours})
    header = text.splitlines()[0]
    for name in ("seed-style", "bucketsync", "bucketsync lean"):
        assert name in header
    assert PRICES_TAKEN in text
    assert "n/a" in text and "$1.5250" in text and "$2.1583" in text
