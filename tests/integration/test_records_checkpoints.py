"""The records sink in Lambda, out of time in the middle of a load, against the moto server.

The load checkpoints; the retry resumes there: an uncompressed file is read on from the
checkpoint's byte offset (a Range GET, and CSV's header from the bytes before it), a gzipped
one from the start; rows and lines are numbered as a read of the whole file numbers them.
"""

from __future__ import annotations

import gzip
import json
from types import SimpleNamespace
from typing import Any

import pytest
from tests.integration.records_loads import current, lines, manifest

from bucketsync.aws.clients import Clients
from bucketsync.compose import build_engine
from bucketsync.local.stack import Stack
from bucketsync.runtimes.lambda_handler import LambdaApp
from bucketsync.settings import Settings


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
