"""Rows under their own key in a shared table (seed 002's upsert), over HTTP against moto.

Two files claiming one key is a conflict reported on the second, never an overwrite; an
overwrite removes the keys its new version lacks; a delete removes only the file's own keys.
Both ways of finding a file's rows are covered: the ``bucketsync-file`` index, and a scan.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bucketsync.aws.clients import Clients
from bucketsync.aws.request_counter import RequestCounter
from bucketsync.local.stack import Stack, StackNames
from bucketsync.runtimes.build import build_worker
from bucketsync.settings import Settings
from bucketsync.sinks.records.keyed import FILE_INDEX
from bucketsync.sinks.records.manifest import ManifestStore


@pytest.fixture(params=["index", "index without _gen", "scan"])
def orders_kind(request: pytest.FixtureRequest) -> str:
    return str(orders_kind)


@pytest.fixture
def orders(orders_kind: str, clients: Clients, names: StackNames) -> Iterator[str]:
    table = f"{names.table}-orders"
    definition: dict[str, Any] = {
        "TableName": table,
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "N"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if orders_kind.startswith("index"):
        definition["AttributeDefinitions"].append({"AttributeName": "_file", "AttributeType": "S"})
        definition["GlobalSecondaryIndexes"] = [
            {
                "IndexName": FILE_INDEX,
                "KeySchema": [{"AttributeName": "_file", "KeyType": "HASH"}],
                "Projection": (
                    {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["_gen"]}
                    if orders_kind == "index"
                    # unusable for sweeps (they filter on _gen): bucketsync must scan instead
                    else {"ProjectionType": "KEYS_ONLY"}
                ),
            }
        ]
    clients.dynamodb.create_table(**definition)
    yield table
    clients.dynamodb.delete_table(TableName=table)


def rows(*ids: int, tag: str) -> bytes:
    return "".join(json.dumps({"id": i, "v": tag}) + "\n" for i in ids).encode()


def table_view(clients: Clients, table: str) -> dict[int, tuple[str, str]]:
    items = clients.dynamodb.scan(TableName=table)["Items"]
    return {int(i["id"]["N"]): (i["v"]["S"], i["_file"]["S"].split("/", 1)[1]) for i in items}


def test_keys_conflict_between_files_and_each_file_keeps_its_own(
    settings: Settings, clients: Clients, stack: Stack, orders: str, orders_kind: str
) -> None:
    routed = settings.override(
        routes=json.dumps([{"match": "orders/*.jsonl", "table": orders, "key": ["id"]}])
    )

    counter = RequestCounter()
    counted = Clients(routed, counter)

    def sync() -> None:
        assert build_worker(routed, counted, queue_url=stack.queue_url).drain().failed == 0

    s3 = clients.s3
    s3.put_object(Bucket=stack.bucket, Key="orders/a.jsonl", Body=rows(1, 2, 3, tag="a1"))
    sync()
    # GIVEN file b claiming key 3, which file a holds
    s3.put_object(Bucket=stack.bucket, Key="orders/b.jsonl", Body=rows(3, 4, tag="b1"))
    sync()
    # THEN b's key 3 is a conflict on b's manifest, and a's row stands
    assert table_view(clients, orders) == {
        1: ("a1", "orders/a.jsonl"),
        2: ("a1", "orders/a.jsonl"),
        3: ("a1", "orders/a.jsonl"),
        4: ("b1", "orders/b.jsonl"),
    }
    manifests = ManifestStore(clients.dynamodb, stack.table, sk=f"MANIFEST#{orders}")
    b = manifests.read(stack.bucket, "orders/b.jsonl")
    assert b is not None and (b.rows, b.bad) == (1, 1)
    assert "conflict: id=" in b.errors[0]["reason"]
    # WHEN a shrinks to keys 1 and 2 with new values, and b is deleted
    s3.put_object(Bucket=stack.bucket, Key="orders/a.jsonl", Body=rows(1, 2, tag="a2"))
    sync()
    s3.delete_object(Bucket=stack.bucket, Key="orders/b.jsonl")
    sync()
    # THEN a's dropped key 3 and b's key 4 are gone, and a's rows are the new version
    assert table_view(clients, orders) == {1: ("a2", "orders/a.jsonl"), 2: ("a2", "orders/a.jsonl")}
    a = manifests.read(stack.bucket, "orders/a.jsonl")
    assert a is not None and (a.status, a.gen, a.rows) == ("complete", 2, 2)
    # AND the sweeps queried the index when it can serve them, and scanned otherwise
    scans = counter.snapshot().get("dynamodb.Scan", 0)
    assert (scans == 0) is (orders_kind == "index"), counter.snapshot()
