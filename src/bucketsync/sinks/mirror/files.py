"""The mirror's files on disk: whether a path can hold one, whether a row's file is still there
(and still the one the mirror wrote), and removing one with the directories it leaves empty."""

from __future__ import annotations

import os
from pathlib import Path

from bucketsync.engine.update import Update
from bucketsync.errors import UnsafeKeyError
from bucketsync.sinks.mirror.download import disk_error, recheck_file
from bucketsync.sinks.mirror.paths import key_of
from bucketsync.sinks.mirror.store import Entry, Identity


def clash(root: Path, path: Path) -> str:
    """Why ``path`` cannot hold a file ('' if it can): a directory there, or a file above."""
    if path.is_dir():
        return f"{_name(root, path)} is a directory here (it holds keys below it)"
    parent = path.parent
    while parent != root and not parent.exists():
        parent = parent.parent
    if parent != root and not parent.is_dir():
        return f"{_name(root, parent)} is a file here, so nothing can go below it"
    return ""


def remove(root: Path, path: Path, *, why: str) -> bool:
    """Unlink the mirror's file and prune the directories it leaves empty; whether it was there.

    A file that cannot be removed (a read-only mirror, a full or failing disk) fails the
    update with one line, ``SinkWriteError`` or ``RetryableError`` with the system's error
    under it (so the runtime sees whose fault it is); the row still says the file is there,
    so the delete is tried again."""
    try:
        path.unlink()
    except FileNotFoundError:
        removed = False
    except IsADirectoryError:
        return False  # not the mirror's file any more: leave it be
    except OSError as exc:
        relative = path.relative_to(root).as_posix()
        raise disk_error(exc, f"cannot remove {relative} ({why})") from exc
    else:
        removed = True
    parent = path.parent
    while parent != root and parent.is_relative_to(root):
        try:
            parent.rmdir()
        except OSError:  # not empty (or gone): the directories above are not empty either
            break
        parent = parent.parent
    return removed


def on_disk(root: Path, entry: Entry) -> bool:
    """The row's file is there with the row's size."""
    try:
        return (root / entry.path).stat().st_size == entry.size
    except OSError:
        return False


def unchanged(held: Entry, update: Update, path: Path) -> Identity | None:
    """The file's identity if the store holds this size and etag and the file is still the one
    the mirror wrote (the download can be skipped); None if it must be downloaded again."""
    state = update.state
    if not (held.on_disk and state.etag and held.etag == state.etag and held.size == state.size):
        return None
    if held.identity is None:  # a row from before identities were kept: its content decides
        return recheck_file(path, held)
    try:
        found = Identity.of(os.stat(path, follow_symlinks=False))
    except OSError:
        return None
    return held.identity if found == held.identity else None


def _name(root: Path, path: Path) -> str:
    """The key that maps to ``path``, for messages (or the path, if none does)."""
    try:
        return repr(key_of(root, path))
    except UnsafeKeyError:
        return repr(path.relative_to(root).as_posix())
