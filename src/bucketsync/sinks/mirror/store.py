"""The mirror's memory: per key, what it holds on disk and under which stamp (SQLite).

One row per key ever seen, tombstones included: a delete leaves ``present = 0`` and its stamp,
so a late create cannot bring the file back. ``status`` says what the row stands for:

    file       the object is on disk at ``path`` with ``size`` and ``etag``
    too_large  the object exists but is over the size limit: not on disk
    refused    the object exists but its key cannot be written safely (``reason`` says why)
    deleted    a tombstone

A ``file`` row also holds the file's identity as the mirror wrote it (``dev``, ``ino``,
``mtime_ns``, with ``size``): the service serves a file only when the one it opened is that
file, so a link or another file put in its place is never taken for it. Rows of a store made
before identities were kept (schema 1) have none; see ``Identity``.

One connection behind a lock: the sink's threads write one short row at a time, so a lock is
cheaper than a connection per thread, and WAL keeps readers (the service) off the writer.

The store is the only record of which files the mirror wrote, so losing it silently is what
must not happen (``storefile`` says how it is watched). ``problem()`` tells whether the file
is still the one opened, whole; ``salvage()`` copies the open database back to its path (a file
deleted or replaced under a running store: nothing is lost); ``reset()`` sets a corrupt or
unreadable file aside and starts an empty store that says it needs a rebuild (``meta``'s
``rebuild`` row, until a full sync clears it: ``rebuilt()``). A statement that finds the file
damaged raises ``StoreCorruptError``: our fault and lasting, never the message's.

Tombstones are kept for the retention the sink is given, then purged (``purge_tombstones``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bucketsync.errors import StoreCorruptError
from bucketsync.sinks.mirror.storefile import (
    CORRUPT,
    REBUILD,
    REPLACED,
    Problem,
    close_quietly,
    connect,
    copy_live,
    examine,
    file_id,
    is_corruption,
    remove_sidecars,
    set_aside,
)

log = logging.getLogger(__name__)

FILE = "file"
TOO_LARGE = "too_large"
REFUSED = "refused"
DELETED = "deleted"

_COLUMNS = "key, path, present, size, etag, stamp, updated_at, status, reason, dev, ino, mtime_ns"
_INT64 = 1 << 64


@dataclass(frozen=True, slots=True)
class Identity:
    """Which file on disk: device and inode, and the size and mtime the mirror left it with.

    A file edited in place keeps its inode but not its mtime; a link or a copy put in its
    place has another inode. A row without one (written before schema 2) is re-checked by its
    content before the service trusts it (``download.recheck``).
    """

    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> Identity:
        return cls(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _signed(value: int) -> int:
    """SQLite holds signed 64-bit integers; device and inode numbers are unsigned ones."""
    return value - _INT64 if value >= _INT64 >> 1 else value


def _unsigned(value: int) -> int:
    return value + _INT64 if value < 0 else value


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
    identity: Identity | None = None

    @property
    def on_disk(self) -> bool:
        """The mirror wrote this key's file (it may since have been removed by hand)."""
        return self.present and self.status == FILE


def _entry(row: tuple[Any, ...]) -> Entry:
    key, path, present, size, etag, stamp, updated_at, status, reason, dev, ino, mtime_ns = row
    identity = None
    if dev is not None and ino is not None and mtime_ns is not None and size is not None:
        identity = Identity(_unsigned(dev), _unsigned(ino), size, mtime_ns)
    return Entry(key, path, bool(present), size, etag, stamp, updated_at, status, reason, identity)


def _identity_values(identity: Identity | None) -> tuple[int | None, int | None, int | None]:
    if identity is None:
        return None, None, None
    return _signed(identity.dev), _signed(identity.ino), identity.mtime_ns


def _after_prefix(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1]) + 1
        if last == 0xD800:  # surrogates are not text: SQLite would get no valid UTF-8
            last = 0xE000
        if last <= 0x10FFFF:
            return prefix[:-1] + chr(last)
        prefix = prefix[:-1]
    return None


class MirrorStore:
    """The state store; every method is safe to call from any thread.

    ``created``: the file did not exist (or was set aside as corrupt) when the store opened.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._broken = ""  # why a statement found the file damaged ('' while it is sound)
        self.created = file_id(path) is None
        try:
            self._db, self._file = connect(path)
            problem = examine(path, self._file)
            if problem is not None:  # garbage in the file, hidden so far behind its -wal
                close_quietly(self._db)
                raise StoreCorruptError(str(problem))
        except (sqlite3.DatabaseError, StoreCorruptError) as exc:
            if isinstance(exc, sqlite3.Error) and not is_corruption(exc):
                raise
            # At start nothing has been taken yet: set it aside and rebuild before any batch.
            aside = set_aside(path, CORRUPT)
            log.error(
                "the mirror's state store %s is corrupt (%s): set aside as %s", path, exc, aside
            )
            self._db, self._file = connect(path)
            self.created = True
            self.need_rebuild(f"the store was corrupt ({exc}), set aside as {aside}")
        self._rebuild = self._read_meta(REBUILD)

    @contextmanager
    def _using(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; a damaged file raises ``StoreCorruptError``."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc):
                    raise
                self._broken = self._broken or str(exc)
                raise StoreCorruptError(f"the mirror's state store {self.path}: {exc}") from exc

    def get(self, key: str) -> Entry | None:
        with self._using() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM objects WHERE key = ?", (key,)).fetchone()
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
        identity: Identity | None = None,
    ) -> Entry:
        """Write the key's row whole (the caller holds the key's lock and checked the stamp).

        ``identity``: of the file the mirror wrote (or found unchanged) for a ``file`` row."""
        if identity is not None and identity.size != size:
            raise ValueError(f"{key!r}: an identity of {identity.size} bytes for {size}")
        entry = Entry(
            key, path, present, size, etag, stamp, self._clock(), status, reason, identity
        )
        row = (key, path, int(present), size, etag, stamp, entry.updated_at, status, reason)
        with self._using() as db:
            db.execute(
                f"INSERT OR REPLACE INTO objects ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, *_identity_values(identity)),
            )
        return entry

    def adopt(self, entry: Entry, identity: Identity) -> bool:
        """Give a row written without an identity the one its file was found to have (its
        content re-checked). Only if the row is still that one: False when it changed since."""
        with self._using() as db:
            cursor = db.execute(
                "UPDATE objects SET dev = ?, ino = ?, mtime_ns = ? WHERE key = ? AND stamp = ?"
                " AND etag IS ? AND size = ? AND status = ? AND present = 1 AND ino IS NULL",
                (
                    *_identity_values(identity),
                    entry.key,
                    entry.stamp,
                    entry.etag,
                    identity.size,
                    FILE,
                ),
            )
        return cursor.rowcount == 1

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
        end = _after_prefix(prefix)
        if end is not None:
            # An upper bound the index can use: else the last page of a prefix scans every
            # key after it to the end of the table, for rows substr then turns away.
            clauses.append("key < ?")
            values.append(end)
        if after is not None:
            clauses.append("key > ?")
            values.append(after)
        if upto is not None:
            clauses.append("key <= ?")
            values.append(upto)
        if present_only:
            clauses.append("present = 1")
        sql = f"SELECT {_COLUMNS} FROM objects WHERE {' AND '.join(clauses)} ORDER BY key LIMIT ?"
        with self._using() as db:
            rows = db.execute(sql, (*values, limit)).fetchall()
        return [_entry(row) for row in rows]

    def stats(self) -> dict[str, int]:
        """Counts: files and their bytes on disk, too_large, refused, tombstones."""
        with self._using() as db:
            row = db.execute(
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

    def purge_tombstones(self, older_than: float) -> int:
        """Delete the tombstones written more than ``older_than`` seconds ago; how many."""
        cutoff = self._clock() - older_than
        with self._using() as db:
            cursor = db.execute(
                "DELETE FROM objects WHERE present = 0 AND updated_at < ?", (cutoff,)
            )
        return max(cursor.rowcount, 0)

    # -- the store's own state ------------------------------------------------------------------

    def now(self) -> float:
        """The store's clock (``updated_at`` and the tombstones' age are on it)."""
        return self._clock()

    @property
    def rebuild_reason(self) -> str:
        """Why the store needs a full sync before it can be trusted ('' when it does not)."""
        return self._rebuild

    def need_rebuild(self, reason: str) -> None:
        with self._using() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (REBUILD, reason))
        self._rebuild = reason

    def rebuilt(self) -> None:
        """A full sync of the whole mirror completed: the store knows the directory again."""
        with self._using() as db:
            db.execute("DELETE FROM meta WHERE name = ?", (REBUILD,))
        self._rebuild = ""

    def _read_meta(self, name: str) -> str:
        with self._using() as db:
            row = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return "" if row is None else str(row[0])

    def problem(self) -> Problem | None:
        """What is wrong with the store's file, if anything (``storefile.examine``)."""
        with self._lock:
            if self._broken:
                return Problem(CORRUPT, self._broken, reported=True)
            return examine(self.path, self._file)

    def salvage(self) -> int:
        """Put the open database back at the path (it was deleted or replaced under us; a file
        put in its place is set aside); the rows it holds. Raises ``sqlite3.Error`` or
        ``OSError`` when the open database cannot be read either."""
        with self._lock:
            # Our WAL folded into our file and emptied, so a -wal of ours moved aside with the
            # file put in our place below can replay nothing into it.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            if file_id(self.path) is not None:
                # Before our connection closes: SQLite removes "<path>-wal" by name then.
                set_aside(self.path, REPLACED)
            rows = copy_live(self._db, self.path)
            # The old connection is closed before the new one opens: closing removes the
            # -wal and -shm named after the path, which must not yet be the new file's.
            close_quietly(self._db)
            self._db, self._file = connect(self.path)
            self._broken = ""
        return rows

    def reset(self, reason: str, *, aside: str = CORRUPT) -> Path | None:
        """Set the file at the path aside (as ``<path>.<aside>-<time>``) and start an empty
        store that needs a rebuild; the name the old file was given (None if there was none)."""
        with self._lock:
            moved = set_aside(self.path, aside)
            close_quietly(self._db)
            remove_sidecars(self.path)
            self._db, self._file = connect(self.path)
            self._broken = ""
            self.created = True
        self.need_rebuild(reason)
        return moved

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> MirrorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
