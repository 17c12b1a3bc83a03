"""Every error a person meets on the command line is one line and an exit status (issue 15, 5).

Each test runs the console script as a person would (a subprocess, the emulator behind it)
and holds the failure to: its status (``bucketsync.cli.exits``), exactly one line on stderr
that names what is wrong, and no traceback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bucketsync.aws.clients import Clients
from bucketsync.local.emulator import Emulator, settings_for
from bucketsync.local.stack import Stack
from bucketsync.settings import Settings

SCRIPT = Path(sys.executable).parent / "bucketsync"
ROWS = b'{"id": "a", "n": 1}\n{"id": "b", "n": 2}\n'


def bucketsync(
    *args: str, emulator: Emulator | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    if not SCRIPT.exists():
        pytest.skip(f"no bucketsync console script next to {sys.executable}")
    environment = {**os.environ, "COLUMNS": "300", **(env or {})}
    if emulator is not None:
        environment.update(settings_for(emulator))
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line the failure printed; fails the test on a traceback or a screenful."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


# --- bucketsync load -------------------------------------------------------------------------


def test_loading_a_missing_object_is_one_line_exit_66(
    emulator: Emulator, stack: Stack, rows_table: str
) -> None:
    done = bucketsync(
        "load", f"s3://{stack.bucket}/in/nothing.jsonl", "--table", rows_table, emulator=emulator
    )
    assert done.returncode == 66, done.stderr
    assert "no such object" in one_line(done)


def test_loading_a_prefix_says_it_is_a_prefix(
    emulator: Emulator, clients: Clients, stack: Stack, rows_table: str
) -> None:
    clients.s3.put_object(Bucket=stack.bucket, Key="in/a.jsonl", Body=ROWS)
    for uri in (f"s3://{stack.bucket}/in/", f"s3://{stack.bucket}/in"):
        done = bucketsync("load", uri, "--table", rows_table, emulator=emulator)
        assert done.returncode == 66, done.stderr
        assert "is a prefix, not an object" in one_line(done)


def test_loading_from_a_missing_bucket_names_the_bucket(
    emulator: Emulator, rows_table: str
) -> None:
    done = bucketsync(
        "load", "s3://bucketsync-no-such-bucket/a.jsonl", "--table", rows_table, emulator=emulator
    )
    assert done.returncode == 66, done.stderr
    assert "no bucket 'bucketsync-no-such-bucket'" in one_line(done)


def test_a_missing_rows_table_is_named_with_how_to_create_it(
    emulator: Emulator, clients: Clients, stack: Stack
) -> None:
    clients.s3.put_object(Bucket=stack.bucket, Key="in/a.jsonl", Body=ROWS)
    done = bucketsync(
        "load", f"s3://{stack.bucket}/in/a.jsonl", "--table", "no-such-rows", emulator=emulator
    )
    assert done.returncode == 78, done.stderr
    line = one_line(done)
    assert "'no-such-rows' does not exist" in line
    assert "aws dynamodb create-table --table-name no-such-rows" in line
    assert "AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE" in line


def test_a_key_that_does_not_match_the_tables_key_schema_writes_nothing(
    emulator: Emulator, settings: Settings, clients: Clients, stack: Stack, rows_table: str
) -> None:
    # GIVEN a file, and a rows table keyed by pk and sk (the layout of a load without --key)
    clients.s3.put_object(Bucket=stack.bucket, Key="in/a.jsonl", Body=ROWS)
    for _ in range(2):  # the second load used to commit generation 2 with 0 rows
        # WHEN it is loaded with --key id
        done = bucketsync(
            "load",
            f"s3://{stack.bucket}/in/a.jsonl",
            "--table",
            rows_table,
            "--key",
            "id",
            emulator=emulator,
            env={"BUCKETSYNC_TABLE": settings.table},
        )
        # THEN it is refused before any row, saying how the table is keyed
        assert done.returncode == 78, done.stderr
        line = one_line(done)
        assert "keyed by pk (partition) and sk (sort), not by --key id" in line
    # AND nothing was written: no row, no manifest, no generation
    assert clients.dynamodb.scan(TableName=rows_table)["Count"] == 0
    assert clients.dynamodb.scan(TableName=settings.table)["Count"] == 0


def test_a_load_without_key_into_a_table_with_its_own_key_says_which_key(
    emulator: Emulator, clients: Clients, stack: Stack
) -> None:
    table = f"{stack.table}-by-id"
    clients.dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        clients.s3.put_object(Bucket=stack.bucket, Key="in/a.jsonl", Body=ROWS)
        done = bucketsync(
            "load", f"s3://{stack.bucket}/in/a.jsonl", "--table", table, emulator=emulator
        )
        assert done.returncode == 78, done.stderr
        assert "with --key id" in one_line(done)
        assert clients.dynamodb.scan(TableName=table)["Count"] == 0
    finally:
        clients.dynamodb.delete_table(TableName=table)


# --- bucketsync serve ------------------------------------------------------------------------


def unwritable() -> str:
    """A directory nobody may make, root included (sysfs refuses new entries)."""
    if not os.path.isdir("/sys/kernel"):
        pytest.skip("no /sys here")
    return "/sys/bucketsync-mirror"


@pytest.mark.parametrize(
    ("place", "reason"),
    [
        ("file", "is a file, not a directory"),
        ("/proc/x", "cannot be made"),
        ("unwritable", "cannot be made"),
    ],
)
def test_serve_refuses_a_mirror_directory_it_cannot_use(
    tmp_path: Path, place: str, reason: str
) -> None:
    if place == "file":
        (tmp_path / "file").write_text("not a directory")
        place = str(tmp_path / "file")
    elif place == "unwritable":
        place = unwritable()
    done = bucketsync("serve", "--mirror-dir", place, "--port", "0")
    assert done.returncode == 78, done.stderr
    line = one_line(done)
    assert f"--mirror-dir (BUCKETSYNC_MIRROR_DIR) {place}: {reason}" in line


def test_serve_refuses_a_port_that_is_no_port(tmp_path: Path) -> None:
    done = bucketsync("serve", "--mirror-dir", str(tmp_path / "m"), "--port", "99999")
    assert done.returncode == 2, done.stderr
    assert "--port (BUCKETSYNC_API_PORT)" in one_line(done)
    assert not (tmp_path / "m").exists()


def test_a_port_in_use_is_found_before_the_full_sync_starts(
    emulator: Emulator, clients: Clients, stack: Stack, tmp_path: Path
) -> None:
    # GIVEN a bucket with objects to mirror, and its port already taken
    for n in range(20):
        clients.s3.put_object(Bucket=stack.bucket, Key=f"f{n}.txt", Body=b"x")
    mirror = tmp_path / "mirror"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # WHEN bucketsync serve is started on it
        done = bucketsync(
            "serve",
            "--mirror-dir",
            str(mirror),
            "--port",
            str(port),
            emulator=emulator,
            env={"BUCKETSYNC_BUCKET": stack.bucket},
        )
    # THEN it says so in one line, having mirrored nothing (it used to fill the mirror first)
    assert done.returncode == 78, done.stderr
    line = one_line(done)
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in line
    assert "--port" in line
    assert [p for p in mirror.rglob("*") if p.is_file()] == []


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["127.0.0.1:5000", "localhost", "ftp://127.0.0.1:5000"])
def test_an_endpoint_without_a_scheme_is_one_line_naming_the_variable(endpoint: str) -> None:
    done = bucketsync("catalog", "ls", "s3://bucket/", env={"BUCKETSYNC_ENDPOINT_URL": endpoint})
    assert done.returncode == 78, done.stderr
    line = one_line(done)
    assert "BUCKETSYNC_ENDPOINT_URL" in line
    assert "http://" in line


def test_an_invalid_routes_variable_is_refused_by_config() -> None:
    done = bucketsync("config", env={"BUCKETSYNC_ROUTES": '[{"match": "data/*.jsonl"}]'})
    assert done.returncode == 78, done.stderr
    line = one_line(done)
    assert "BUCKETSYNC_ROUTES" in line and "table" in line
    assert done.stdout == ""
