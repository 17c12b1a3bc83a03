"""The mirror's state store (SQLite), and the ordering rule applied to its rows."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketsync.engine.stamp import sequencer_stamp
from bucketsync.engine.state import ABSENT, ObjectState
from bucketsync.engine.update import Update
from bucketsync.errors import Fault, StoreCorruptError, fault_of
from bucketsync.sinks.mirror import Entry, MirrorStore
from bucketsync.sinks.mirror.ordering import Verdict, decide
from bucketsync.sinks.mirror.store import REFUSED, TOO_LARGE


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MirrorStore]:
    with MirrorStore(tmp_path / "state" / "state.sqlite") as opened:
        yield opened


def put(store: MirrorStore, key: str, stamp: str = "O1", size: int = 1) -> Entry:
    return store.record(key, path=key, present=True, stamp=stamp, size=size, etag="e")


def test_a_row_reads_back_as_written(store: MirrorStore) -> None:
    written = store.record(
        "a/b", path="a/b", present=True, stamp="S01", size=12, etag="abc", status="file"
    )
    assert store.get("a/b") == written
    assert written.on_disk
    assert store.get("missing") is None


def test_a_tombstone_keeps_its_stamp(store: MirrorStore) -> None:
    put(store, "k", "S01")
    store.tombstone("k", path="k", stamp="S02")
    entry = store.get("k")
    assert entry is not None
    assert (entry.present, entry.stamp, entry.status, entry.on_disk) == (
        False,
        "S02",
        "deleted",
        False,
    )


def test_updated_at_is_the_time_of_the_write(tmp_path: Path) -> None:
    times = iter([100.0, 250.0])
    with MirrorStore(tmp_path / "s.sqlite", clock=lambda: next(times)) as store:
        assert put(store, "k").updated_at == 100.0
        assert put(store, "k").updated_at == 250.0
        entry = store.get("k")
        assert entry is not None
        assert entry.updated_at == 250.0


def test_rows_survive_a_reopen_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with MirrorStore(path) as store:
        put(store, "kept")
    with MirrorStore(path) as again:
        assert again.get("kept") is not None
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


KEYS = ["a", "a/b", "a_b", "a%b", "ab", "b", "é", "z", "\uffff", "😀", "😀/x"]


def test_entries_come_in_s3_order(store: MirrorStore) -> None:
    for key in reversed(KEYS):
        put(store, key)
    listed = [entry.key for entry in store.entries()]
    # S3 lists by UTF-8 bytes, which is Python's code point order
    assert listed == sorted(KEYS, key=lambda k: k.encode())
    assert listed == sorted(KEYS)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("a", ["a", "a/b", "a_b", "a%b", "ab"]),
        ("a/", ["a/b"]),
        ("a_", ["a_b"]),  # not a LIKE wildcard
        ("a%", ["a%b"]),
        ("😀", ["😀", "😀/x"]),
        ("nothing", []),
    ],
)
def test_entries_under_a_prefix(store: MirrorStore, prefix: str, expected: list[str]) -> None:
    for key in KEYS:
        put(store, key)
    assert [entry.key for entry in store.entries(prefix)] == sorted(expected)


def test_pages_cover_every_row_exactly_once(store: MirrorStore) -> None:
    keys = [f"dir/{n:04d}" for n in range(250)]
    for key in keys:
        put(store, key)
    put(store, "other")
    seen: list[str] = []
    after = None
    while True:
        page = store.entries("dir/", after=after, limit=40)
        seen.extend(entry.key for entry in page)
        if len(page) < 40:
            break
        after = page[-1].key
    assert seen == keys


def test_tombstones_are_listed_only_when_asked(store: MirrorStore) -> None:
    put(store, "live")
    store.tombstone("dead", path="dead", stamp="O2")
    assert [e.key for e in store.entries()] == ["live"]
    assert [e.key for e in store.entries(present_only=False)] == ["dead", "live"]


def test_stats_count_each_kind_of_row(store: MirrorStore) -> None:
    put(store, "one", size=10)
    put(store, "two", size=32)
    store.record("big", path="big", present=True, stamp="O1", size=10**9, status=TOO_LARGE)
    store.record("bad", path="", present=True, stamp="O1", status=REFUSED, reason="why")
    store.tombstone("gone", path="gone", stamp="O1")
    assert store.stats() == {
        "files": 2,
        "bytes": 42,
        "too_large": 1,
        "refused": 1,
        "tombstones": 1,
    }


def test_stats_of_an_empty_store(store: MirrorStore) -> None:
    assert store.stats() == {"files": 0, "bytes": 0, "too_large": 0, "refused": 0, "tombstones": 0}


def test_many_threads_write_and_read_at_once(store: MirrorStore) -> None:
    # GIVEN 8 threads each writing 150 rows while reading and listing
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(worker: int) -> None:
        try:
            start.wait()
            for n in range(150):
                key = f"w{worker}/{n:03d}"
                put(store, key, stamp=f"O{n:03d}", size=n)
                assert store.get(key) is not None
                if n % 25 == 0:
                    store.entries(f"w{worker}/")
                    store.stats()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN nothing failed and every row is there
    assert errors == []
    assert store.stats()["files"] == 1200
    assert len(store.entries("w3/", limit=1000)) == 150


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


# -- ordering over the store's rows ---------------------------------------------------------


def seq(n: int) -> str:
    return sequencer_stamp(f"{n:016X}")


def obs(ns: int) -> str:
    return f"O{ns:020d}"


def row(stamp: str, *, present: bool = True, updated_at: float = 100.0) -> Entry:
    return Entry("k", "k", present, 1, "e", stamp, updated_at, "file" if present else "deleted")


def update(
    stamp: str, *, present: bool = True, seen: str | None = None, origin: str = "event"
) -> Update:
    state = ObjectState(present=True, size=1, etag="e") if present else ABSENT
    return Update("b", "k", state, stamp, (), seen, origin)


@pytest.mark.parametrize(
    ("held", "incoming", "verdict"),
    [
        (None, update(seq(1)), Verdict.APPLY),
        (row(seq(1)), update(seq(2)), Verdict.APPLY),
        (row(seq(2)), update(seq(1)), Verdict.STALE),
        (row(seq(2)), update(seq(2)), Verdict.STALE),  # a duplicate
        (row(seq(2), present=False), update(seq(1)), Verdict.STALE),  # late create
        (row(obs(5)), update(obs(6)), Verdict.APPLY),
        (row(obs(6)), update(obs(5), present=False), Verdict.STALE),
        # an observation that began before the row was written saw an older state
        (row(seq(9), updated_at=100.0), update(obs(99 * 10**9)), Verdict.STALE),
        (row(seq(9), updated_at=100.0), update(obs(100 * 10**9), present=False), Verdict.STALE),
        (row(seq(9), updated_at=100.0), update(obs(101 * 10**9), present=False), Verdict.APPLY),
        (row(seq(9), updated_at=100.0), update(obs(101 * 10**9)), Verdict.APPLY),
        # an event without a lookup over a full sync's row: the engine confirms it first
        (row(obs(10**20 - 1)), update(seq(1)), Verdict.CONFIRM),
        (row(obs(1)), update(seq(1), present=False), Verdict.CONFIRM),
        (row(obs(1), present=False), update(seq(1), present=False), Verdict.CONFIRM),
        # ... and with its lookup's start, the later observation wins
        (row(obs(5)), update(seq(1), seen=obs(6)), Verdict.APPLY),
        (row(obs(5)), update(seq(1), seen=obs(4)), Verdict.STALE),
        # a repair applies only over a row written before its listing began (updated_at 100 s)
        (row(obs(10**20 - 1)), update(obs(101 * 10**9), origin="listing"), Verdict.APPLY),
        (row(obs(1)), update(obs(99 * 10**9), origin="listing"), Verdict.STALE),
    ],
)
def test_which_updates_may_change_a_key(
    held: Entry | None, incoming: Update, verdict: Verdict
) -> None:
    assert decide(held, incoming) is verdict


def test_the_write_ahead_log_stays_small_on_a_small_disk(
    store: MirrorStore, tmp_path: Path
) -> None:
    """Issue 15 (the chaos suite's full run): SQLite's WAL grew to its default checkpoint of
    1,000 pages (4 MiB) and kept that size on disk, so a 5 MiB mirror filled up and never
    recovered. The WAL is checkpointed early and truncated after, to a few hundred KiB."""
    wal = tmp_path / "state" / "state.sqlite-wal"
    largest = 0
    for n in range(3_000):
        put(store, f"some/longer/prefix/key-{n:05d}", stamp=f"O{n:05d}", size=n)
        if n % 50 == 0 and wal.exists():
            largest = max(largest, wal.stat().st_size)
    assert wal.exists(), "the store is not in WAL mode: this test would prove nothing"
    assert largest <= 1024 * 1024, f"the WAL reached {largest:,} bytes"
