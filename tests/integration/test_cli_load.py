"""``bucketsync load`` end to end against the moto server, in-process with CliRunner."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from bucketsync.aws.clients import Clients
from bucketsync.cli import app
from bucketsync.local.emulator import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY
from bucketsync.local.stack import Stack, StackNames
from bucketsync.settings import Settings
from bucketsync.sinks.records.reader import RecordsReader

GOOD = b'{"id": 1}\n{"id": 2}\n{"id": 3}\n'
BAD = b'{"id": 1}\nnot json\n{"id": 3}\n[1, 2]\n'


def load(settings: Settings, *args: str) -> Result:
    assert settings.endpoint_url
    return CliRunner().invoke(
        app,
        ["--endpoint-url", settings.endpoint_url, "load", *args],
        env={
            "BUCKETSYNC_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "BUCKETSYNC_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
            "COLUMNS": "200",
        },
    )


def test_load_writes_the_rows_and_says_how_many(
    settings: Settings, clients: Clients, stack: Stack, rows_table: str
) -> None:
    clients.s3.put_object(Bucket=stack.bucket, Key="in/good.jsonl", Body=GOOD)
    result = load(settings, f"s3://{stack.bucket}/in/good.jsonl", "--table", rows_table)
    assert result.exit_code == 0, result.output
    assert "3 rows, 0 bad" in result.output
    rows = list(RecordsReader(clients.dynamodb, rows_table).rows(stack.bucket, "in/good.jsonl"))
    assert [r["id"] for r in rows] == [1, 2, 3]


def test_dry_run_reports_bad_rows_by_line_and_writes_nothing(
    settings: Settings, clients: Clients, stack: Stack, rows_table: str
) -> None:
    clients.s3.put_object(Bucket=stack.bucket, Key="in/bad.jsonl", Body=BAD)
    result = load(settings, f"s3://{stack.bucket}/in/bad.jsonl", "--table", rows_table, "--dry-run")
    assert result.exit_code == 1, result.output
    assert "would load 2 rows, 2 bad" in result.output
    assert "not valid JSON" in result.output and "│ 2 " in result.output
    assert clients.dynamodb.scan(TableName=rows_table)["Count"] == 0


def test_a_file_that_cannot_be_read_exits_65(
    settings: Settings, clients: Clients, stack: Stack, rows_table: str
) -> None:
    clients.s3.put_object(Bucket=stack.bucket, Key="in/x.csv.gz", Body=b"not gzip at all")
    result = load(settings, f"s3://{stack.bucket}/in/x.csv.gz", "--table", rows_table)
    assert result.exit_code == 65, result.output
    assert "cannot be read" in result.output


def test_load_with_key_upserts_into_a_shared_table(
    settings: Settings, clients: Clients, stack: Stack, names: StackNames
) -> None:
    shared = f"{names.table}-shared"
    clients.dynamodb.create_table(
        TableName=shared,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    clients.s3.put_object(Bucket=stack.bucket, Key="in/good.jsonl", Body=GOOD)
    assert settings.endpoint_url
    result = CliRunner().invoke(
        app,
        [
            "--endpoint-url",
            settings.endpoint_url,
            "--table",
            stack.table,
            "load",
            f"s3://{stack.bucket}/in/good.jsonl",
            "--table",
            shared,
            "--key",
            "id",
        ],
        env={
            "BUCKETSYNC_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "BUCKETSYNC_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
            "COLUMNS": "200",
        },
    )
    assert result.exit_code == 0, result.output
    items = clients.dynamodb.scan(TableName=shared)["Items"]
    assert sorted(int(i["id"]["N"]) for i in items) == [1, 2, 3]
    assert {i["_file"]["S"] for i in items} == {f"{stack.bucket}/in/good.jsonl"}
