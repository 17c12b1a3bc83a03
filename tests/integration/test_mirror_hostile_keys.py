"""Keys that must not become the paths they spell, against the moto server: hostile keys never
escape the mirror's root, a symbolic link planted in the root is not followed, a key clashing
with a directory is refused, and ``local_path`` names the file the sink writes."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from tests.integration.mirroring import created, mirrored, put, removed

from bucketsync.aws.clients import Clients
from bucketsync.engine.state import ObjectState
from bucketsync.engine.update import Outcome, Update
from bucketsync.reconcile.mirror import full_sync
from bucketsync.sinks.mirror import MirrorSink, local_path
from bucketsync.sinks.mirror.paths import STATE_DIR

# -- hostile keys ---------------------------------------------------------------------------

HOSTILE = [
    "../x",
    "a/../../x",
    "../../outside/planted",
    "/etc/passwd",
    "a\\..\\..\\x",
    "..\\..\\evil",
    "a\x00b",
    "line\nbreak",
    "x" * 300,
    ".",
    "..",
    "a/./b",
    "a//b",
    ".bucketsync/state.sqlite",
    ".bucketsync-fake",
    "%2E%2E",
    "%2e%2e/%2F",
    "dir/",
    "日本語/ü.txt",
    "clash",
    "clash/inner",
]


def test_hostile_keys_never_escape_the_root(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path, tmp_path: Path
) -> None:
    # GIVEN a sentinel outside the root, and every hostile key S3 accepts, uploaded
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel").write_bytes(b"untouched")
    accepted = {}
    for n, key in enumerate(HOSTILE):
        try:
            put(clients, bucket, key, f"body {n}".encode())
        except ClientError:
            continue
        accepted[key] = f"body {n}".encode()
    assert len(accepted) >= len(HOSTILE) - 4, f"moto refused too many: {accepted.keys()}"
    # WHEN all are applied, accepted or not
    updates = [
        created(clients, bucket, key)
        if key in accepted
        else Update(bucket, key, ObjectState(present=True, size=1, etag="0" * 32), "O1", ())
        for key in HOSTILE
    ]
    results = sink.apply(updates)
    assert not any(isinstance(result, BaseException) for result in results), results
    # THEN nothing exists outside the root but what was there
    for directory, subdirectories, names in os.walk(tmp_path):
        for name in subdirectories + names:
            path = Path(directory) / name
            assert path == root or path.is_relative_to(root) or path.is_relative_to(outside), path
    assert sorted(p.name for p in outside.iterdir()) == ["sentinel"]
    assert (outside / "sentinel").read_bytes() == b"untouched"
    # AND every file inside is one the store accounts for, holding its key's object
    state = root / STATE_DIR
    assert sorted(p.name for p in state.iterdir() if not p.name.startswith("state.sqlite")) == []
    files = {
        path.relative_to(root).as_posix(): path
        for path in root.rglob("*")
        if path.is_file() and not path.is_relative_to(state)
    }
    owners = {e.path: e for e in sink.store.entries(limit=10_000) if e.on_disk}
    assert files.keys() == owners.keys()
    for relative, path in files.items():
        assert path.read_bytes() == accepted[owners[relative].key]
    assert files, "nothing was mirrored at all"
    # AND a full sync over the same keys keeps it so
    report = full_sync(sink, clients.s3, bucket)
    assert (report.failed, report.deleted, report.untracked) == (0, 0, 0)
    assert sorted(p.name for p in outside.iterdir()) == ["sentinel"]


def test_a_symlink_planted_in_the_root_is_not_followed(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path, tmp_path: Path
) -> None:
    # GIVEN links in the root to a directory and to a file outside it
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "file").symlink_to(outside / "target")
    for key in ("link/x.txt", "file"):
        put(clients, bucket, key, b"must stay inside")
    # WHEN their keys are applied THEN both are refused with the reason, nothing is written
    results = sink.apply([created(clients, bucket, k) for k in ("link/x.txt", "file")])
    assert results == [Outcome.REJECTED, Outcome.REJECTED]
    assert list(outside.iterdir()) == []
    entry = sink.store.get("link/x.txt")
    assert entry is not None
    assert (entry.status, "symbolic link" in entry.reason) == ("refused", True)
    assert sink.counters()["refused"] == 2


@pytest.mark.parametrize("first", ["a", "a/b"])
def test_a_key_clashing_with_a_directory_is_refused(
    clients: Clients, bucket: str, sink: MirrorSink, caplog: pytest.LogCaptureFixture, first: str
) -> None:
    # GIVEN "a" and "a/b", which cannot both be files; one is mirrored first
    second = "a/b" if first == "a" else "a"
    put(clients, bucket, "a", b"file a")
    put(clients, bucket, "a/b", b"file a/b")
    assert sink.apply([created(clients, bucket, first)]) == [Outcome.APPLIED]
    # WHEN the other comes THEN it is refused, logged with why, and the first is untouched
    with caplog.at_level(logging.WARNING, logger="bucketsync.sinks.mirror"):
        assert sink.apply([created(clients, bucket, second)]) == [Outcome.REJECTED]
    assert "not mirroring" in caplog.text
    assert "'a'" in caplog.text
    assert mirrored(sink.root) == {first: f"file {first}".encode()}
    entry = sink.store.get(second)
    assert entry is not None
    assert entry.status == "refused"
    assert "a" in entry.reason
    # AND once the first is gone, a full sync brings the second
    clients.s3.delete_object(Bucket=bucket, Key=first)
    assert sink.apply([removed(bucket, first)]) == [Outcome.APPLIED]
    full_sync(sink, clients.s3, bucket)
    assert mirrored(sink.root) == {second: f"file {second}".encode()}


def test_local_path_is_where_the_sink_writes(
    clients: Clients, bucket: str, sink: MirrorSink
) -> None:
    put(clients, bucket, "odd/../name%", b"z")
    sink.apply([created(clients, bucket, "odd/../name%")])
    assert local_path(sink.root, "odd/../name%").read_bytes() == b"z"
