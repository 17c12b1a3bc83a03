"""``bucketsync catalog ls|get`` end to end: S3 → queue → worker → catalog → the CLI, in-process.

The Typer app runs under ``CliRunner`` with the global options a user would pass
(``--endpoint-url``, ``--table``) and the emulator's fake credentials in ``BUCKETSYNC_*``.
Rich tables are rendered 250 columns wide so long keys are not folded across lines.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from bucketsync.aws.clients import Clients
from bucketsync.cli import app
from bucketsync.compose import build_engine
from bucketsync.local.emulator import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY
from bucketsync.local.stack import Stack
from bucketsync.runtimes.build import build_worker
from bucketsync.runtimes.worker import Worker
from bucketsync.settings import Settings

PREFIX = "reports/"
# Under PREFIX: spaces, '+', unicode, '#', '?', '%20' (literal, never decoded), deep prefixes.
UNDER_PREFIX: dict[str, bytes] = {
    "reports/2024/q1 summary.csv": b"quarter one",
    "reports/2024/a+b=c.csv": b"plus",
    "reports/2024/ünïcødé €.txt": "unicode ✓".encode(),
    "reports/deep/nested/prefix/of/many/levels/file.bin": b"\x00\x01\x02",
    "reports/hash#tag?query=1.txt": b"hash and question mark",
    "reports/literal%20percent.txt": b"percent",
}
# Not under PREFIX, though some share its first characters.
OUTSIDE: dict[str, bytes] = {
    "other/reports/x.txt": b"elsewhere",
    "reportsX/not-under-the-prefix.txt": b"sibling",
    "top level.txt": b"root",
}
GONE = "reports/gone soon.txt"
BRACKETS = "reports/brackets/report [final].pdf"
LIVE = {**UNDER_PREFIX, **OUTSIDE}


@dataclass(frozen=True)
class Catalogued:
    """A drained stack and how to reach it from the command line."""

    stack: Stack
    endpoint_url: str

    def cli(self, *args: str) -> Result:
        """``bucketsync --endpoint-url … --table … <args>``, in-process."""
        return CliRunner().invoke(
            app,
            ["--endpoint-url", self.endpoint_url, "--table", self.stack.table, *args],
            env={
                "BUCKETSYNC_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
                "BUCKETSYNC_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
                "COLUMNS": "250",
                "FORCE_COLOR": None,
                "TTY_COMPATIBLE": None,
            },
        )

    def uri(self, key: str = "") -> str:
        return f"s3://{self.stack.bucket}/{key}"


def etag(body: bytes) -> str:
    return hashlib.md5(body).hexdigest()


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.fixture
def catalogued(settings: Settings, clients: Clients, stack: Stack) -> Catalogued:
    """Every key uploaded, ``GONE`` uploaded then deleted, and the queue drained."""
    for key, body in LIVE.items():
        clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=body)
    clients.s3.put_object(Bucket=stack.bucket, Key=GONE, Body=b"bye")
    clients.s3.delete_object(Bucket=stack.bucket, Key=GONE)
    worker = build_worker(settings, clients, queue_url=stack.queue_url, threads=1)
    stats = worker.drain()
    assert stats.failed == 0, stats
    assert settings.endpoint_url is not None
    return Catalogued(stack, settings.endpoint_url)


def test_ls_json_yields_exactly_the_keys_under_the_prefix(catalogued: Catalogued) -> None:
    # WHEN listing the prefix as JSON
    result = catalogued.cli("catalog", "ls", catalogued.uri(PREFIX), "--json")
    # THEN one object per line, exactly the live keys under the prefix, in key order
    assert result.exit_code == 0, result.output
    items = json_lines(result.stdout)
    keys = [item["object_key"] for item in items]
    assert keys == sorted(UNDER_PREFIX, key=lambda k: k.encode())
    # AND each line carries the object's size and etag, for this bucket
    for item in items:
        body = UNDER_PREFIX[item["object_key"]]
        assert item["bucket"] == catalogued.stack.bucket
        assert item["size"] == len(body)
        assert item["etag"] == etag(body)
        assert item["deleted"] is False


def test_ls_json_of_the_whole_bucket_and_of_a_nested_prefix(catalogued: Catalogued) -> None:
    # WHEN listing the bucket root (with and without the trailing slash) and a deep prefix
    everything = catalogued.cli("catalog", "ls", f"s3://{catalogued.stack.bucket}", "--json")
    root = catalogued.cli("catalog", "ls", catalogued.uri(), "--json")
    nested = catalogued.cli("catalog", "ls", catalogued.uri("reports/deep/nested/"), "--json")
    # THEN the root is every live key, and the prefix narrows it down
    assert everything.exit_code == root.exit_code == nested.exit_code == 0
    assert {i["object_key"] for i in json_lines(everything.stdout)} == set(LIVE)
    assert json_lines(root.stdout) == json_lines(everything.stdout)
    assert [i["object_key"] for i in json_lines(nested.stdout)] == [
        "reports/deep/nested/prefix/of/many/levels/file.bin"
    ]


def test_ls_table_shows_the_keys_and_the_count(catalogued: Catalogued) -> None:
    # WHEN listing the prefix as a Rich table
    result = catalogued.cli("catalog", "ls", catalogued.uri(PREFIX))
    # THEN every key under the prefix is shown, nothing else is, and the title counts them
    assert result.exit_code == 0, result.output
    for key in UNDER_PREFIX:
        assert key in result.stdout
    for key in [*OUTSIDE, GONE]:
        assert key not in result.stdout
    assert f"{len(UNDER_PREFIX)} object(s)" in result.stdout


def test_deleted_includes_tombstones(catalogued: Catalogued) -> None:
    # WHEN listing with and without --deleted
    live = catalogued.cli("catalog", "ls", catalogued.uri(PREFIX), "--json")
    everything = catalogued.cli("catalog", "ls", catalogued.uri(PREFIX), "--json", "--deleted")
    table = catalogued.cli("catalog", "ls", catalogued.uri(PREFIX), "--deleted")
    # THEN only --deleted shows the deleted key, as a tombstone, and counts it
    assert live.exit_code == everything.exit_code == table.exit_code == 0
    assert GONE not in {i["object_key"] for i in json_lines(live.stdout)}
    by_key = {i["object_key"]: i for i in json_lines(everything.stdout)}
    assert set(by_key) == {*UNDER_PREFIX, GONE}
    assert by_key[GONE]["deleted"] is True
    assert all(by_key[k]["deleted"] is False for k in UNDER_PREFIX)
    assert GONE in table.stdout
    assert f"{len(UNDER_PREFIX) + 1} object(s)" in table.stdout
    # AND get shows the tombstone itself
    tombstone = catalogued.cli("catalog", "get", catalogued.uri(GONE), "--json")
    assert tombstone.exit_code == 0, tombstone.output
    assert json.loads(tombstone.stdout)["deleted"] is True


def test_get_json_returns_the_item(catalogued: Catalogued) -> None:
    for key, body in UNDER_PREFIX.items():
        # WHEN getting one key, '#' and '?' included, as JSON
        result = catalogued.cli("catalog", "get", catalogued.uri(key), "--json")
        # THEN the output is the one item, with the key exactly as uploaded
        assert result.exit_code == 0, (key, result.output)
        item = json.loads(result.stdout)
        assert item["object_key"] == key
        assert item["sk"] == f"KEY#{key}"
        assert item["size"] == len(body)
        assert item["etag"] == etag(body)


def test_get_table_shows_the_attributes(catalogued: Catalogued) -> None:
    key = "reports/hash#tag?query=1.txt"
    result = catalogued.cli("catalog", "get", catalogued.uri(key))
    assert result.exit_code == 0, result.output
    for attribute in ("object_key", "size", "etag", "deleted"):
        assert attribute in result.stdout
    assert etag(UNDER_PREFIX[key]) in result.stdout


MISSING = (
    "reports/never uploaded.txt",
    "reports/2024/q1 summary.csv#",  # '#' is part of the key, not a URL fragment
    "reports/2024/q1%20summary.csv",  # no percent-decoding: a different key
    "reports/",  # a prefix is not an object
)


def test_get_a_missing_key_exits_1_with_a_clear_message(catalogued: Catalogued) -> None:
    for key in MISSING:
        uri = catalogued.uri(key)
        result = catalogued.cli("catalog", "get", uri, "--json")
        assert result.exit_code == 1, (key, result.output)
        assert result.stdout == ""
        assert f"{uri}: not in the catalog" in result.stderr


@pytest.mark.parametrize("subcommand", ["ls", "get"])
@pytest.mark.parametrize("uri", ["http://x", "s3://", "s3:///key", "bucket/key", "s3:/b/k"])
def test_a_bad_uri_is_a_usage_error(subcommand: str, uri: str) -> None:
    # No emulator needed: the URI is refused before any AWS call (the endpoint is unreachable).
    result = CliRunner().invoke(
        app,
        ["--endpoint-url", "http://127.0.0.1:9", "--table", "t", "catalog", subcommand, uri],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 2, result.output
    assert "expected s3://bucket/key" in result.stderr
    assert result.stdout == ""


# --- regressions of defects found and fixed --------------------------------------------------


@pytest.fixture
def bracketed(settings: Settings, clients: Clients, stack: Stack) -> Catalogued:
    for key in (BRACKETS, "reports/brackets/x[/].txt"):
        clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=b"b")
    Worker(build_engine(settings, clients), clients.sqs, stack.queue_url, threads=1).drain()
    assert settings.endpoint_url is not None
    return Catalogued(stack, settings.endpoint_url)


def test_tables_show_keys_with_square_brackets_literally(bracketed: Catalogued) -> None:
    listing = bracketed.cli("catalog", "ls", bracketed.uri("reports/brackets/"))
    one = bracketed.cli("catalog", "get", bracketed.uri(BRACKETS))
    assert listing.exit_code == 0, listing.output
    assert BRACKETS in listing.stdout
    assert "reports/brackets/x[/].txt" in listing.stdout
    assert one.exit_code == 0, one.output
    assert BRACKETS in one.stdout


# --- a page at a time, in 80 columns (issue 15, item 6) --------------------------------------


def ls_page(catalogued: Catalogued, *args: str, columns: str = "250") -> Result:
    return CliRunner().invoke(
        app,
        [
            *("--endpoint-url", catalogued.endpoint_url, "--table", catalogued.stack.table),
            *("catalog", "ls", *args),
        ],
        env={
            "BUCKETSYNC_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "BUCKETSYNC_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
            "COLUMNS": columns,
            "FORCE_COLOR": None,
            "TTY_COMPATIBLE": None,
        },
    )


def test_ls_pages_with_limit_and_continues_after_the_last_key(catalogued: Catalogued) -> None:
    # WHEN the prefix is listed two keys at a time, each page continued where the last said
    seen: list[str] = []
    after: list[str] = []
    for _ in range(len(UNDER_PREFIX)):
        page = ls_page(catalogued, catalogued.uri(PREFIX), "--json", "--limit", "2", *after)
        assert page.exit_code == 0, page.output
        keys = [i["object_key"] for i in json_lines(page.stdout)]
        assert len(keys) <= 2
        seen += keys
        if "--after" not in page.stderr:
            break
        # THEN the continuation names the last key shown, quoted for a shell
        (hint,) = page.stderr.splitlines()
        after = ["--after", shlex.split(hint.split("--after", 1)[1])[0]]
        assert after[1] == keys[-1]
    # AND the pages together are the listing: every key once, in key order
    assert seen == sorted(UNDER_PREFIX)


def test_ls_table_shows_a_page_and_says_more_follow(catalogued: Catalogued) -> None:
    result = ls_page(catalogued, catalogued.uri(PREFIX), "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "3 object(s), more follow" in result.stdout
    assert f"--after {shlex.quote(sorted(UNDER_PREFIX)[2])}" in result.stderr
    everything = ls_page(catalogued, catalogued.uri(PREFIX), "--limit", "0")
    assert f"{len(UNDER_PREFIX)} object(s)" in everything.stdout
    assert everything.stderr == ""


def test_ls_after_a_key_outside_the_prefix(catalogued: Catalogued) -> None:
    before = ls_page(catalogued, catalogued.uri(PREFIX), "--json", "--after", "a")
    past = ls_page(catalogued, catalogued.uri(PREFIX), "--json", "--after", "z")
    assert [i["object_key"] for i in json_lines(before.stdout)] == sorted(UNDER_PREFIX)
    assert past.exit_code == 0 and past.stdout == ""


def test_ls_table_fits_80_columns(catalogued: Catalogued) -> None:
    result = ls_page(catalogued, catalogued.uri(PREFIX), columns="80")
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert f"{len(UNDER_PREFIX)} object(s)" in result.stdout
    assert "reports/2024/a+b=c.csv" in result.stdout  # a short key stays whole
