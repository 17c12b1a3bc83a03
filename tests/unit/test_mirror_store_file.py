"""The mirror store's own file (issue 15): deleted or replaced under an open store and put
back, garbage and damaged pages seen as corrupt and set aside, a rebuild owed until one is done;
tombstones purged after their retention; a schema 2 store brought to schema 3."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from bucketsync.errors import Fault, StoreCorruptError, fault_of
from bucketsync.sinks.mirror import MirrorStore
from tests.unit.mirror_rows import put

# -- the store's own file: lost, replaced, damaged (issue 15) --------------------------------

DAY = 86_400.0


def aside(path: Path, why: str) -> list[Path]:
    """The files set aside as ``why`` next to ``path`` (their -wal and -shm left out)."""
    found = path.parent.glob(f"{path.name}.{why}-*")
    return sorted(p for p in found if not p.name.endswith(("-wal", "-shm")))


def test_a_whole_store_has_no_problem(store: MirrorStore) -> None:
    put(store, "k")
    assert store.problem() is None
    assert store.rebuild_reason == ""


def test_a_store_deleted_under_it_is_seen_and_put_back_whole(tmp_path: Path) -> None:
    # GIVEN an open store with rows, whose files are deleted (rm state.sqlite*)
    path = tmp_path / "state.sqlite"
    with MirrorStore(path) as store:
        put(store, "a")
        store.tombstone("b", path="b", stamp="O2")
        for found in tmp_path.glob("state.sqlite*"):
            found.unlink()
        # THEN it says so, and keeps working on its open file meanwhile
        problem = store.problem()
        assert problem is not None
        assert problem.kind == "missing"
        put(store, "c")
        # WHEN it is salvaged THEN every row, tombstones included, is back at the path
        assert store.salvage() == 3
        assert store.problem() is None
        put(store, "d")
    with MirrorStore(path) as again:
        assert [e.key for e in again.entries(present_only=False)] == ["a", "b", "c", "d"]
        assert again.rebuild_reason == ""


def test_a_store_replaced_under_it_is_put_back_and_the_other_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with MirrorStore(path) as store:
        put(store, "ours")
        other = tmp_path / "other.sqlite"
        with MirrorStore(other) as foreign:
            put(foreign, "theirs")
        os.replace(other, path)
        problem = store.problem()
        assert problem is not None
        assert problem.kind == "replaced"
        store.salvage()
    with MirrorStore(path) as again:
        assert [e.key for e in again.entries()] == ["ours"]
    [kept] = aside(path, "replaced")
    with MirrorStore(kept) as foreign:
        assert [e.key for e in foreign.entries()] == ["theirs"]


def test_garbage_over_an_open_store_is_seen_as_corrupt(store: MirrorStore) -> None:
    put(store, "k")
    with store.path.open("r+b") as raw:
        raw.write(b"garbage" * 1000)
    problem = store.problem()
    assert problem is not None
    assert (problem.kind, problem.reported) == ("corrupt", False)


def test_a_reset_sets_the_file_aside_and_owes_a_rebuild_until_one_is_done(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite"
    with MirrorStore(path) as store:
        put(store, "k")
        moved = store.reset("the store was corrupt: a test")
        assert moved is not None
        assert aside(path, "corrupt") == [moved]
        assert (store.get("k"), store.rebuild_reason) == (None, "the store was corrupt: a test")
        assert store.created
    with MirrorStore(path) as again:  # owed across a restart
        assert again.rebuild_reason == "the store was corrupt: a test"
        again.rebuilt()
    with MirrorStore(path) as again:
        assert again.rebuild_reason == ""


def test_a_corrupt_store_at_start_is_set_aside_and_a_new_one_owes_a_rebuild(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite"
    with MirrorStore(path) as store:
        put(store, "k")
    path.write_bytes(b"not a database at all" * 500)
    with MirrorStore(path) as store:
        assert store.created
        assert "corrupt" in store.rebuild_reason
        assert store.get("k") is None
        put(store, "new")
    assert len(aside(path, "corrupt")) == 1


def test_a_damaged_page_fails_the_statement_as_ours(tmp_path: Path) -> None:
    # GIVEN a store of several pages whose middle pages are overwritten (the header intact)
    path = tmp_path / "state.sqlite"
    with MirrorStore(path) as store:
        for n in range(2000):
            put(store, f"key/{n:05d}")
    with path.open("r+b") as raw:
        raw.seek(3 * 4096)
        raw.write(b"\xff" * (8 * 4096))
    with MirrorStore(path) as store:
        # WHEN a statement reads them THEN it fails with StoreCorruptError: ours, lasting
        with pytest.raises(StoreCorruptError) as raised:
            store.entries(limit=5000)
        assert fault_of(raised.value) is Fault.CONFIGURATION
        problem = store.problem()
        assert problem is not None
        assert (problem.kind, problem.reported) == ("corrupt", True)


def test_tombstones_are_purged_once_older_than_the_retention(tmp_path: Path) -> None:
    # GIVEN tombstones written at day 0 and day 20, and a live row at day 0
    now = [0.0]
    with MirrorStore(tmp_path / "s.sqlite", clock=lambda: now[0]) as store:
        store.tombstone("old", path="old", stamp="O1")
        put(store, "live")
        now[0] = 20 * DAY
        store.tombstone("recent", path="recent", stamp="O2")
        # WHEN at day 29 tombstones older than 30 days are purged THEN none is
        now[0] = 29 * DAY
        assert store.purge_tombstones(30 * DAY) == 0
        # WHEN at day 31 THEN the day-0 tombstone goes; the live row and the recent one stay
        now[0] = 31 * DAY
        assert store.purge_tombstones(30 * DAY) == 1
        assert [e.key for e in store.entries(present_only=False)] == ["live", "recent"]
        assert store.stats()["tombstones"] == 1


def test_a_schema_2_store_is_brought_to_schema_3(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with sqlite3.connect(path) as raw:
        raw.execute(
            "CREATE TABLE objects (key TEXT PRIMARY KEY, path TEXT NOT NULL, present INTEGER"
            " NOT NULL, status TEXT NOT NULL, size INTEGER, etag TEXT, stamp TEXT NOT NULL,"
            " updated_at REAL NOT NULL, reason TEXT NOT NULL DEFAULT '', dev INTEGER,"
            " ino INTEGER, mtime_ns INTEGER) WITHOUT ROWID"
        )
        raw.execute(
            "INSERT INTO objects VALUES ('k', 'k', 0, 'deleted', NULL, NULL, 'O1',"
            " 1.0, '', NULL, NULL, NULL)"
        )
        raw.execute("PRAGMA user_version=2")
    raw.close()
    with MirrorStore(path, clock=lambda: 100 * DAY) as store:
        assert store.rebuild_reason == ""
        assert store.purge_tombstones(30 * DAY) == 1
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 3
        indexes = [row[1] for row in raw.execute("PRAGMA index_list(objects)")]
        assert "tombstones" in indexes
    raw.close()
