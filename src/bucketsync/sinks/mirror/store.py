"""The mirror's memory: per key, what it holds on disk and under which stamp (SQLite).

One row per key ever seen, tombstones included: a delete leaves ``present = 0`` and its stamp,
so a late create cannot bring the file back. ``status`` says what the row stands for:

    file       the object is on disk at ``path`` with ``size`` and ``etag``
    too_large  the object exists but is over the size limit: not on disk
    refused    the object exists but its key cannot be written safely (``reason`` says why)
    deleted    a tombstone

One connection behind a lock: the sink's threads write one short row at a time, so a lock is
cheaper than a connection per thread, and WAL keeps readers (the service) off the writer.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE = "file"
TOO_LARGE = "too_large"
REFUSED = "refused"
DELETED = "deleted"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    key        TEXT PRIMARY KEY,
    path       TEXT NOT NULL,
    present    INTEGER NOT NULL,
    status     TEXT NOT NULL,
    size       INTEGER,
    etag       TEXT,
    stamp      TEXT NOT NULL,
    updated_at REAL NOT NULL,
    reason     TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID
"""
_COLUMNS = "key, path, present, size, etag, stamp, updated_at, status, reason"


@dataclass(frozen=True, slots=True)
class Entry:
    """One key's row. ``path`` is relative to the root ('' when the key has none);
    ``updated_at`` is the local ``time.time()`` of the row's last write."""

    key: str
    path: str
    present: bool
    size: int | None
    etag: str | None
    stamp: str
    updated_at: float
    status: str = FILE
    reason: str = ""

    @property
    def on_disk(self) -> bool:
        """The mirror wrote this key's file (it may since have been removed by hand)."""
        return self.present and self.status == FILE


def _entry(row: tuple[Any, ...]) -> Entry:
    key, path, present, size, etag, stamp, updated_at, status, reason = row
    return Entry(key, path, bool(present), size, etag, stamp, updated_at, status, reason)


class MirrorStore:
    """The state store; every method is safe to call from any thread."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Autocommit: each write is one statement, so each is its own transaction.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL loses at most the last commits on power loss, never consistency;
        # a lost row only costs a download again (the file itself is fsynced before it).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def get(self, key: str) -> Entry | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM objects WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else _entry(row)

    def record(
        self,
        key: str,
        *,
        path: str,
        present: bool,
        stamp: str,
        size: int | None = None,
        etag: str | None = None,
        status: str = FILE,
        reason: str = "",
    ) -> Entry:
        """Write the key's row whole (the caller holds the key's lock and checked the stamp)."""
        entry = Entry(key, path, present, size, etag, stamp, self._clock(), status, reason)
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO objects ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, path, int(present), size, etag, stamp, entry.updated_at, status, reason),
            )
        return entry

    def tombstone(self, key: str, *, path: str, stamp: str) -> Entry:
        return self.record(key, path=path, present=False, stamp=stamp, status=DELETED)

    def entries(
        self,
        prefix: str = "",
        *,
        after: str | None = None,
        upto: str | None = None,
        limit: int = 1000,
        present_only: bool = True,
    ) -> list[Entry]:
        """Rows under ``prefix`` in key order (S3's order: UTF-8 bytes), from after ``after``
        up to ``upto`` (inclusive).

        Pages: pass the last key of one page as ``after`` of the next.
        """
        # SQLite compares TEXT as UTF-8 bytes (BINARY), like S3 and Python's str order; the
        # range finds the start with the primary key, substr checks the prefix exactly.
        clauses, values = ["key >= ?", "substr(key, 1, ?) = ?"], [prefix, len(prefix), prefix]
        if after is not None:
            clauses.append("key > ?")
            values.append(after)
        if upto is not None:
            clauses.append("key <= ?")
            values.append(upto)
        if present_only:
            clauses.append("present = 1")
        sql = f"SELECT {_COLUMNS} FROM objects WHERE {' AND '.join(clauses)} ORDER BY key LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*values, limit)).fetchall()
        return [_entry(row) for row in rows]

    def stats(self) -> dict[str, int]:
        """Counts: files and their bytes on disk, too_large, refused, tombstones."""
        with self._lock:
            row = self._db.execute(
                "SELECT"
                " COALESCE(SUM(present = 1 AND status = ?), 0),"
                " COALESCE(SUM(CASE WHEN present = 1 AND status = ? THEN size END), 0),"
                " COALESCE(SUM(present = 1 AND status = ?), 0),"
                " COALESCE(SUM(present = 1 AND status = ?), 0),"
                " COALESCE(SUM(present = 0), 0)"
                " FROM objects",
                (FILE, FILE, TOO_LARGE, REFUSED),
            ).fetchone()
        files, size, too_large, refused, tombstones = (int(value) for value in row)
        return {
            "files": files,
            "bytes": size,
            "too_large": too_large,
            "refused": refused,
            "tombstones": tombstones,
        }

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> MirrorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
