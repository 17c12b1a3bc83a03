"""The records sink end to end over HTTP against the moto server.

S3 → SQS → worker → rows in a DynamoDB table, for every format and its gzip variant,
overwrites that shrink and grow a file, deletes, bad rows, a file that fails whole, and
duplicated and reordered events.
"""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from tests.integration.helpers import file_items

from bucketsync.aws.clients import Clients
from bucketsync.compose import build_engine
from bucketsync.local.stack import Stack, StackNames, ensure_records_tables
from bucketsync.record_routes import parse_routes
from bucketsync.runtimes.build import build_worker
from bucketsync.runtimes.lambda_handler import LambdaApp
from bucketsync.settings import Settings
from bucketsync.sinks.records.reader import RecordsReader


@pytest.fixture
def routed(settings: Settings, rows_table: str) -> Settings:
    routes = [{"match": "data/**", "table": rows_table, "csv": {"column_types": {"n": "int"}}}]
    return settings.override(routes=json.dumps(routes))


def sync(settings: Settings, clients: Clients, stack: Stack) -> None:
    stats = build_worker(settings, clients, queue_url=stack.queue_url, threads=1).drain()
    assert stats.failed == 0, stats


def current(clients: Clients, table: str, stack: Stack, key: str) -> list[dict[str, Any]]:
    return list(RecordsReader(clients.dynamodb, table).rows(stack.bucket, key))


def manifest(clients: Clients, table: str, stack: Stack, key: str) -> Any:
    return RecordsReader(clients.dynamodb, table).manifest(stack.bucket, key)


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


def lines(n: int, tag: str) -> bytes:
    return "".join(json.dumps({"i": i, "v": tag}) + "\n" for i in range(n)).encode()


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


def lambda_context(remaining_ms: int) -> Any:
    return SimpleNamespace(
        function_name="bucketsync",
        memory_limit_in_mb=256,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bucketsync",
        aws_request_id="req-1",
        get_remaining_time_in_millis=lambda: remaining_ms,
    )


def sqs_event(clients: Clients, stack: Stack, key: str) -> dict[str, Any]:
    """The queued notifications for ``key``, as Lambda receives them from SQS."""
    received = clients.sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10)
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for m in received["Messages"]
            if key.replace("/", "%2F") in m["Body"] or key in m["Body"]
        ]
    }


def lambda_app(routed: Settings, clients: Clients) -> LambdaApp:
    return LambdaApp(
        routed.override(catalog=False), build_engine(routed.override(catalog=False), clients)
    )


def test_a_load_out_of_lambda_time_resumes_from_its_checkpoint_on_retry(
    routed: Settings, clients: Clients, stack: Stack, rows_table: str
) -> None:
    # GIVEN a notification for a 50-row file, as Lambda receives it from SQS
    key = "data/long.jsonl"
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=lines(50, "v1"))
    event = sqs_event(clients, stack, key)
    app = lambda_app(routed, clients)
    # WHEN the first invocation has less time left than a load keeps in reserve
    first = app.handle(event, lambda_context(remaining_ms=5_000))
    # THEN the message is failed for a retry, with the progress checkpointed, not current yet
    assert [f["itemIdentifier"] for f in first["batchItemFailures"]] == [
        event["Records"][0]["messageId"]
    ]
    state = manifest(clients, rows_table, stack, key)
    assert state.status == "loading" and state.raw["next_index"] >= 1 and state.gen is None
    # AND the retry, with time to spare, resumes there and completes the file
    second = app.handle(event, lambda_context(remaining_ms=900_000))
    assert second["batchItemFailures"] == []
    done = manifest(clients, rows_table, stack, key)
    assert (done.status, done.rows, done.gen) == ("complete", 50, 1)
    assert [r["i"] for r in current(clients, rows_table, stack, key)] == list(range(50))


class Ranges:
    """The Range header of every GetObject the client sends (None for a whole object)."""

    def __init__(self, clients: Clients) -> None:
        self.seen: list[str | None] = []
        clients.s3.meta.events.register("before-call.s3.GetObject", self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.seen.append(params["headers"].get("Range"))

    def take(self) -> list[str | None]:
        seen, self.seen = self.seen, []
        return seen


def row_indexes(clients: Clients, table: str, stack: Stack, key: str) -> dict[int, str]:
    """Each row item's index (from its sort key) and its ``i`` field, of every generation."""
    answer = clients.dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :p AND begins_with(sk, :row)",
        ExpressionAttributeValues={
            ":p": {"S": f"FILE#{stack.bucket}/{key}"},
            ":row": {"S": "ROW#"},
        },
    )
    # "i" is a number in JSON Lines, a string in CSV (an untyped column)
    return {
        int(item["sk"]["S"][4:]): item["i"]["N"] if "N" in item["i"] else item["i"]["S"]
        for item in answer["Items"]
    }


# Row 0 first, then a blank line, and a bad line as row 7: lines after the checkpoint must be
# numbered as in a read of the whole file.
LONG_JSONL = (
    json.dumps({"i": 0, "v": "é"}, ensure_ascii=False).encode()
    + b"\r\n\n"
    + b"".join(b'{"i": %d}\n' % i for i in range(1, 7))
    + b"{oops\n"
    + b"".join(b'{"i": %d}\n' % i for i in range(8, 40))
)
# Row 0's quoted cell spans three physical lines, all before the checkpoint; row 7 is bad.
LONG_CSV = (
    b'\xef\xbb\xbfi,n,note\r\n0,0,"first\r\nspans\nthree, lines"\r\n'
    + b"".join(b"%d,%d,plain\n" % (i, i * 10) for i in range(1, 7))
    + b"7,oops\n"
    + b"".join(b"%d,%d,plain\n" % (i, i * 10) for i in range(8, 40))
)


@pytest.mark.parametrize(
    "case",
    [
        # key, body, where row 0 ends (byte, next line), the bad row's line
        ("data/long.jsonl", LONG_JSONL, (LONG_JSONL.index(b"\r\n") + 2, 2), 9),
        ("data/long.csv", LONG_CSV, (LONG_CSV.index(b"1,10"), 5), 11),
    ],
)
def test_a_resumed_load_reads_on_from_the_checkpoints_byte_offset(
    routed: Settings, clients: Clients, stack: Stack, rows_table: str, case: tuple[Any, ...]
) -> None:
    key, body, (offset, line), bad_line = case
    # GIVEN an uncompressed file whose first attempt ran out of Lambda time after row 0
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=body)
    event, app, ranges = (
        sqs_event(clients, stack, key),
        lambda_app(routed, clients),
        Ranges(clients),
    )
    assert app.handle(event, lambda_context(remaining_ms=5_000))["batchItemFailures"]
    # THEN its checkpoint holds where row 1 starts: the byte after row 0, and its line
    state = manifest(clients, rows_table, stack, key)
    assert (state.raw["next_index"], state.raw["next_offset"], state.raw["next_line"]) == (
        1,
        offset,
        line,
    )
    assert ranges.take() == [None]
    # WHEN the retry runs with time to spare
    assert app.handle(event, lambda_context(remaining_ms=900_000))["batchItemFailures"] == []
    # THEN it read the object from that offset on (and CSV's header from the bytes before it),
    # never the whole object again
    expected = [f"bytes={offset}-"]
    if key.endswith(".csv"):
        expected.append(f"bytes=0-{offset - 1}")
    assert sorted(ranges.take(), key=str) == sorted(expected)
    # AND the file is complete: every good row once, under its own index, the bad row on its
    # line as a whole read numbers it
    done = manifest(clients, rows_table, stack, key)
    assert (done.status, done.rows, done.bad, done.gen) == ("complete", 39, 1, 1)
    assert done.errors[0]["index"] == 7 and done.errors[0]["line"] == bad_line
    indexes = row_indexes(clients, rows_table, stack, key)
    assert sorted(indexes) == [i for i in range(40) if i != 7]
    assert all(int(value) == index for index, value in indexes.items())
    rows = current(clients, rows_table, stack, key)
    assert [int(r["i"]) for r in rows] == sorted(indexes)
    if key.endswith(".csv"):
        assert rows[0]["note"] == "first\r\nspans\nthree, lines" and rows[1]["n"] == 10


def test_a_load_checkpointed_after_its_last_row_completes_without_reading_again(
    routed: Settings, clients: Clients, stack: Stack, rows_table: str
) -> None:
    # GIVEN a one-row file whose first attempt ran out of time right after that row
    key = "data/one.jsonl"
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=b'{"i": 0}\n')
    event, app, ranges = (
        sqs_event(clients, stack, key),
        lambda_app(routed, clients),
        Ranges(clients),
    )
    assert app.handle(event, lambda_context(remaining_ms=5_000))["batchItemFailures"]
    assert manifest(clients, rows_table, stack, key).raw["next_offset"] == 9
    # WHEN the retry asks for the bytes from there, and S3 answers 416: there are none
    assert app.handle(event, lambda_context(remaining_ms=900_000))["batchItemFailures"] == []
    assert ranges.take() == [None, "bytes=9-"]
    # THEN the file is complete with its one row
    done = manifest(clients, rows_table, stack, key)
    assert (done.status, done.rows, done.bad) == ("complete", 1, 0)
    assert current(clients, rows_table, stack, key) == [{"i": 0}]


def test_a_resumed_gzip_load_reads_again_from_the_start(
    routed: Settings, clients: Clients, stack: Stack, rows_table: str
) -> None:
    # GIVEN a gzipped file whose first attempt ran out of time: gzip offsets cannot be sought
    key = "data/long.jsonl.gz"
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=gzip.compress(LONG_JSONL))
    event, app, ranges = (
        sqs_event(clients, stack, key),
        lambda_app(routed, clients),
        Ranges(clients),
    )
    assert app.handle(event, lambda_context(remaining_ms=5_000))["batchItemFailures"]
    state = manifest(clients, rows_table, stack, key)
    assert (state.raw["next_index"], state.raw["next_offset"], state.raw["next_line"]) == (1, 0, 0)
    # WHEN the retry runs
    assert app.handle(event, lambda_context(remaining_ms=900_000))["batchItemFailures"] == []
    # THEN it read the whole object again, skipping row 0, and the file is complete
    assert ranges.take() == [None, None]
    done = manifest(clients, rows_table, stack, key)
    assert (done.status, done.rows, done.bad) == ("complete", 39, 1)
    assert done.errors[0]["line"] == 9
    indexes = row_indexes(clients, rows_table, stack, key)
    assert sorted(indexes) == [i for i in range(40) if i != 7]
    assert all(int(value) == index for index, value in indexes.items())


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
