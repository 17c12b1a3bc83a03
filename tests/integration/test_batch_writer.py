"""BatchWriter against the emulator's DynamoDB: many batches in flight, then deletes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bucketsync.aws.batch_write import BatchWriter
from bucketsync.aws.clients import Clients
from bucketsync.local.stack import StackNames
from bucketsync.sinks.tables import table_definition


@pytest.fixture
def table(clients: Clients, names: StackNames) -> Iterator[str]:
    clients.dynamodb.create_table(**table_definition(names.table))
    yield names.table
    clients.dynamodb.delete_table(TableName=names.table)


def count(clients: Clients, table: str) -> int:
    pages = clients.dynamodb.get_paginator("scan").paginate(TableName=table, Select="COUNT")
    return sum(page["Count"] for page in pages)


def test_1000_puts_then_300_deletes(clients: Clients, table: str) -> None:
    # GIVEN 1,000 rows written with four batches in flight
    with BatchWriter(clients.dynamodb, table, key_attributes=("pk", "sk"), in_flight=4) as w:
        for i in range(1000):
            w.put({"pk": f"P#{i % 7}", "sk": f"S#{i:04}", "n": i, "body": "x" * 100}, tag=i)
        written = w.flush()
        # WHEN 300 of them are deleted
        for i in range(0, 900, 3):
            w.delete({"pk": f"P#{i % 7}", "sk": f"S#{i:04}"}, tag=i)
    # THEN every request landed and the table holds the other 700
    assert (written.written, written.failures) == (1000, [])
    assert written.requests >= 40
    assert w.final is not None
    assert (w.final.deleted, w.final.failures) == (300, [])
    assert count(clients, table) == 700
    kept = clients.dynamodb.get_item(
        TableName=table, Key={"pk": {"S": "P#1"}, "sk": {"S": "S#0001"}}
    )
    assert kept["Item"]["n"] == {"N": "1"}
    gone = clients.dynamodb.get_item(
        TableName=table, Key={"pk": {"S": "P#3"}, "sk": {"S": "S#0003"}}
    )
    assert "Item" not in gone
