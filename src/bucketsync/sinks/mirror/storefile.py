"""The state store's database file itself: opened at the current schema (``connect``), whether
it is still the one the store opened, whole, and how it is put back when it is not.

A running store holds its file open; SQLite keeps reading and writing an unlinked file as if
nothing happened. So a ``rm .bucketsync/state.sqlite*`` under a running mirror goes unnoticed
until the process stops, and the next start finds no store at all. The store therefore keeps
the identity (device, inode) of the file it opened and compares it with what the path names:

    the path names our file, which starts "SQLite format 3\\0"   → whole
    nothing at the path                                          → missing
    another file at the path                                     → replaced
    our file, but not a database any more (garbage written)      → corrupt

One stat and a 16-byte read: cheap enough before every batch. A file found corrupt, or one put
in the store's place, is never deleted: it is renamed aside (``state.sqlite.corrupt-<time>``,
with its ``-wal`` and ``-shm``), for a person to look at.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
WAL_PAGES = 64  # a checkpoint every 64 pages written (256 KiB with 4 KiB pages)
WAL_LIMIT_BYTES = 512 * 1024  # what the WAL file is truncated to after a checkpoint
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
    reason     TEXT NOT NULL DEFAULT '',
    dev        INTEGER,
    ino        INTEGER,
    mtime_ns   INTEGER
) WITHOUT ROWID
"""
# Schema 2 → 3: what the store knows about itself (a rebuild owed), and the tombstones by age
# (a partial index: only tombstones are in it, so the purge reads no live row).
_META = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID"
_TOMBSTONES = "CREATE INDEX IF NOT EXISTS tombstones ON objects (updated_at) WHERE present = 0"
REBUILD = "rebuild"  # meta: why the store needs a full sync
# Schema 1 → 2: the identity columns, empty (NULL) on the rows already there.
_IDENTITY_COLUMNS = ("dev", "ino", "mtime_ns")
MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database
SIDECARS = ("-wal", "-shm")
MISSING = "missing"
REPLACED = "replaced"
CORRUPT = "corrupt"
# SQLite's primary result codes for a file that is not (or no longer) a sound database.
_CORRUPT_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB


@dataclass(frozen=True, slots=True)
class FileId:
    dev: int
    ino: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FileId:
        return cls(stat.st_dev, stat.st_ino)


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with the store's file. ``reported``: a statement already failed on it, so
    the batch that ran it was already failed with the error (it need not be raised again)."""

    kind: str  # MISSING, REPLACED or CORRUPT
    detail: str = ""
    reported: bool = False

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}" if self.detail else self.kind


def is_corruption(exc: sqlite3.Error) -> bool:
    """An error that says the file is damaged (not busy, locked, full or read-only)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _CORRUPT_CODES


def file_id(path: Path) -> FileId | None:
    try:
        return FileId.of(os.stat(path))
    except FileNotFoundError:
        return None


def examine(path: Path, opened: FileId) -> Problem | None:
    """Whether ``path`` is still the database file the store opened (``opened``), whole."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return Problem(MISSING, f"{path} was deleted")
    except OSError:
        return None  # cannot tell (a permission): the statements will say what is wrong
    if FileId.of(found) != opened:
        return Problem(REPLACED, f"another file was put at {path}")
    try:
        with open(path, "rb") as raw:
            header = raw.read(len(MAGIC))
    except OSError:
        return None
    if header != MAGIC:
        return Problem(CORRUPT, f"{path} is no SQLite database any more")
    return None


def set_aside(path: Path, why: str) -> Path | None:
    """Rename the file at ``path`` and its ``-wal`` and ``-shm`` to ``<path>.<why>-<time>``;
    the new name of the main file (None if there was none)."""
    aside = path.with_name(f"{path.name}.{why}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    moved = None
    for suffix in ("", *SIDECARS):
        try:
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
        except FileNotFoundError:
            continue
        if not suffix:
            moved = aside
    return moved


def remove_sidecars(path: Path) -> None:
    """A ``-wal`` left beside a new database would be replayed into it: remove any."""
    for suffix in SIDECARS:
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def copy_live(db: sqlite3.Connection, path: Path) -> int:
    """Copy the open database ``db`` (its file may be unlinked: SQLite still reads it) to a new
    file, then rename it to ``path``; the rows copied. The caller holds the store's lock."""
    temp = path.with_name(f"{path.name}.salvage-{os.getpid()}")
    for suffix in ("", *SIDECARS):
        Path(f"{temp}{suffix}").unlink(missing_ok=True)
    target = sqlite3.connect(temp, isolation_level=None)
    try:
        db.backup(target)
        (rows,) = target.execute("SELECT COUNT(*) FROM objects").fetchone()
        # Out of WAL mode and back: the copy is one self-contained file, its -wal folded in.
        target.execute("PRAGMA journal_mode=DELETE")
    except BaseException:
        target.close()
        temp.unlink(missing_ok=True)
        raise
    target.close()
    remove_sidecars(path)
    os.replace(temp, path)
    return int(rows)


def connect(path: Path) -> tuple[sqlite3.Connection, FileId]:
    """Open (or create) the database at ``path``, at the current schema; and its file's id."""
    # Autocommit: each write is one statement, so each is its own transaction.
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL loses at most the last commits on power loss, never consistency;
        # a lost row only costs a download again (the file itself is fsynced before it).
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        # The WAL would grow to 1,000 pages (4 MiB) before a checkpoint and keep that size on
        # disk: on a small mirror disk that is room the files need, and a full disk that frees
        # up must leave the store room to write again. Checkpoint at 64 pages, truncate after.
        db.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
        db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
        db.execute(_SCHEMA)
        _migrate(db)
        opened = file_id(path)
    except BaseException:
        db.close()
        raise
    if opened is None:  # deleted while it was being opened
        db.close()
        raise sqlite3.OperationalError(f"{path} disappeared while it was opened")
    return db, opened


def _migrate(db: sqlite3.Connection) -> None:
    """Schema 1 → 2: the identity columns; 2 → 3: meta and the tombstones' index.
    Idempotent, so two openers may race."""
    present = {row[1] for row in db.execute("PRAGMA table_info(objects)")}
    for column in _IDENTITY_COLUMNS:
        if column not in present:
            try:
                db.execute(f"ALTER TABLE objects ADD COLUMN {column} INTEGER")
            except sqlite3.OperationalError as exc:  # another process added it first
                if "duplicate column" not in str(exc):
                    raise
    db.execute(_META)
    db.execute(_TOMBSTONES)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def close_quietly(db: sqlite3.Connection) -> None:
    """Close a connection whose file is gone or damaged: its last checkpoint may fail."""
    try:
        db.close()
    except sqlite3.Error as exc:
        log.debug("closing the old state store: %s", exc)
