"""The records sink end to end over HTTP against the moto server.

S3 → SQS → worker → rows in a DynamoDB table, for every format and its gzip variant,
overwrites that shrink and grow a file, deletes, bad rows, a file that fails whole, and
duplicated and reordered events.
"""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from typing import Any

import pytest
from tests.integration.helpers import file_items
from tests.integration.records_loads import current, lines, manifest, sync

from bucketsync.aws.clients import Clients
from bucketsync.local.stack import Stack, StackNames, ensure_records_tables
from bucketsync.record_routes import parse_routes
from bucketsync.settings import Settings

JSONL = (
    b'{"id": 1, "price": 9.99, "tags": ["a"], "note": "", "gone": null}\n'
    b'{"id": 2, "big": 123456789012345678901234567890}\n'
)
JSON_ARRAY = b'[{"id": 1, "nested": {"x": [1, 2.5]}}, {"id": 2}]'
JSON_OBJECT = b'{"id": 1, "name": "only one"}'
CSV = b'id,n,name\n1,10,alpha\n2,20,"b, with comma"\n'
TSV = b"id\tn\tname\n1\t5\ttab separated\n"


@pytest.mark.parametrize(
    "case",
    [
        ("data/a.jsonl", JSONL, None, 2),
        ("data/a.jsonl.gz", gzip.compress(JSONL), None, 2),
        ("data/a.json", JSON_ARRAY, None, 2),
        ("data/a.json", gzip.compress(JSON_ARRAY), "gzip", 2),
        ("data/one.json", JSON_OBJECT, None, 1),
        ("data/a.csv", CSV, None, 2),
        ("data/a.csv.gz", gzip.compress(CSV), None, 2),
        ("data/a.tsv", TSV, None, 1),
    ],
)
def test_every_format_loads_its_rows(
    routed: Settings, clients: Clients, stack: Stack, rows_table: str, case: tuple[Any, ...]
) -> None:
    key, body, encoding, expected = case
    extra = {"ContentEncoding": encoding} if encoding else {}
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=body, **extra)
    sync(routed, clients, stack)
    rows = current(clients, rows_table, stack, key)
    assert len(rows) == expected
    assert manifest(clients, rows_table, stack, key).status == "complete"


def test_types_survive_without_loss(
    routed: Settings, clients: Clients, stack: Stack, rows_table: str
) -> None:
    clients.s3.put_object(Bucket=stack.bucket, Key="data/t.jsonl", Body=JSONL)
    clients.s3.put_object(Bucket=stack.bucket, Key="data/t.csv", Body=CSV)
    sync(routed, clients, stack)
    first, second = current(clients, rows_table, stack, "data/t.jsonl")
    assert first == {"id": 1, "price": Decimal("9.99"), "tags": ["a"], "note": "", "gone": None}
    assert second["big"] == 123456789012345678901234567890
    csv_rows = current(clients, rows_table, stack, "data/t.csv")
    assert csv_rows[0] == {"id": "1", "n": 10, "name": "alpha"}
    assert csv_rows[1]["name"] == "b, with comma"


def test_an_overwrite_that_shrinks_then_grows_leaves_exactly_the_new_rows(
    routed: Settings, clients: Clients, stack: Stack, rows_table: str
) -> None:
    key = "data/grow.jsonl"
    for n, tag in ((30, "v1"), (5, "v2"), (40, "v3")):
        clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=lines(n, tag))
        sync(routed, clients, stack)
        rows = current(clients, rows_table, stack, key)
        assert [r["i"] for r in rows] == list(range(n))
        assert {r["v"] for r in rows} == {tag}
        # and no row of an older generation is left in the table at all
        assert file_items(clients, rows_table, stack.bucket, key) == n + 1  # rows, manifest


def test_a_delete_removes_the_rows_and_leaves_a_tombstone(
    routed: Settings, clients: Clients, stack: Stack, rows_table: str
) -> None:
    key = "data/gone.jsonl"
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=lines(12, "v1"))
    sync(routed, clients, stack)
    clients.s3.delete_object(Bucket=stack.bucket, Key=key)
    sync(routed, clients, stack)
    assert current(clients, rows_table, stack, key) == []
    tomb = manifest(clients, rows_table, stack, key)
    assert tomb.status == "deleted" and tomb.raw["expires_at"] > 0


@pytest.mark.parametrize(
    "case",
    [
        ("data/bad.jsonl", b'{"a": 1}\n{"a": oops}\n{"a": 3}\n', 2, 2),
        ("data/bad.csv", b"a,n\n1,2\n3\n4,5\n", 2, 3),
        ("data/bad.json", b'[{"a": 1}, 7, {"a": 3}]', 2, None),
        ("data/big.jsonl", b'{"a": 1}\n{"a": "' + b"x" * 410_000 + b'"}\n', 1, 2),
    ],
)
def test_a_bad_row_is_reported_and_the_good_rows_land(
    routed: Settings, clients: Clients, stack: Stack, rows_table: str, case: tuple[Any, ...]
) -> None:
    key, body, good, line = case
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=body)
    sync(routed, clients, stack)
    assert len(current(clients, rows_table, stack, key)) == good
    state = manifest(clients, rows_table, stack, key)
    assert (state.status, state.rows, state.bad) == ("complete", good, 1)
    assert state.errors[0]["line"] == line
    assert state.errors[0]["reason"]


def test_a_file_that_fails_whole_keeps_the_previous_rows_current(
    routed: Settings, clients: Clients, stack: Stack, rows_table: str
) -> None:
    key = "data/keep.jsonl.gz"
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=gzip.compress(lines(7, "good")))
    sync(routed, clients, stack)
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=b"this is not gzip")
    sync(routed, clients, stack)
    state = manifest(clients, rows_table, stack, key)
    assert state.status == "failed" and "gzip" in state.raw["failure"].lower()
    assert [r["v"] for r in current(clients, rows_table, stack, key)] == ["good"] * 7


def test_duplicated_and_reordered_events_converge_on_the_newest_version(
    routed: Settings, clients: Clients, stack: Stack, rows_table: str
) -> None:
    key = "data/order.jsonl"
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=lines(3, "v1"))
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=lines(6, "v2"))
    # the queue now holds both notifications; deliver them, then the first one again
    messages = clients.sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10)
    bodies = [m["Body"] for m in messages.get("Messages", [])]
    for body in reversed(bodies):
        clients.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
    clients.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=bodies[0])
    for m in messages.get("Messages", []):
        clients.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=m["ReceiptHandle"])
    sync(routed, clients, stack)
    assert [r["v"] for r in current(clients, rows_table, stack, key)] == ["v2"] * 6


def test_bad_rows_are_reported_to_s3_under_the_rules_prefix(
    settings: Settings, clients: Clients, stack: Stack, rows_table: str
) -> None:
    routes = [{"match": "**/*.jsonl", "table": rows_table, "errors_prefix": "errors/"}]
    reporting = settings.override(routes=json.dumps(routes))
    clients.s3.put_object(Bucket=stack.bucket, Key="in/bad.jsonl", Body=b'{"a": 1}\n{oops\n')
    sync(reporting, clients, stack)
    body = clients.s3.get_object(Bucket=stack.bucket, Key="errors/in/bad.jsonl.errors.json")
    report = json.loads(body["Body"].read())
    assert (report["rows"], report["bad_rows"], report["errors"][0]["line"]) == (1, 1, 2)
    assert report["outcome"] == "applied"  # LoadOutcome is a StrEnum: the JSON reads a string
    # the report's own event was routed nowhere: the rule does not read what it writes
    sync(reporting, clients, stack)
    assert manifest(clients, rows_table, stack, "errors/in/bad.jsonl.errors.json") is None


def test_the_local_stack_creates_the_rules_tables_once(clients: Clients, names: StackNames) -> None:
    routes = parse_routes(
        json.dumps(
            [
                {"match": "a/*", "table": f"{names.table}-r1"},
                {"match": "b/*", "table": f"{names.table}-r1"},
                {"match": "c/*", "table": f"{names.table}-keyed", "key": ["id"]},
            ]
        )
    )
    try:
        assert ensure_records_tables(clients, routes) == [f"{names.table}-r1"]
        assert ensure_records_tables(clients, routes) == [f"{names.table}-r1"]  # converges
        ttl = clients.dynamodb.describe_time_to_live(TableName=f"{names.table}-r1")
        assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
        tables = clients.dynamodb.list_tables()["TableNames"]
        assert f"{names.table}-keyed" not in tables  # a keyed rule's schema is the user's
    finally:
        clients.dynamodb.delete_table(TableName=f"{names.table}-r1")
