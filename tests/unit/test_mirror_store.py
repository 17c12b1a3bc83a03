"""The mirror's state store (SQLite), and the ordering rule applied to its rows."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketsync.engine.stamp import sequencer_stamp
from bucketsync.engine.state import ABSENT, ObjectState, Update
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
