"""The mirror's state store (SQLite): rows as written, listed in S3's order and by page, counted,
written from many threads at once; its write-ahead log kept small. The store's own file (lost,
replaced, damaged), its tombstones' retention and its schema: ``test_mirror_store_file.py``;
the ordering rule over its rows: ``test_mirror_ordering.py``."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bucketsync.sinks.mirror import MirrorStore
from bucketsync.sinks.mirror.store import REFUSED, TOO_LARGE
from tests.unit.mirror_rows import put


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
