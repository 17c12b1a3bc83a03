"""Files under the mirror's root that it did not write: counted, never touched; and temporary
files an interrupted download left, removed once they are an hour old."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from bucketsync.errors import UnsafeKeyError
from bucketsync.sinks.mirror.download import TEMP_PREFIX
from bucketsync.sinks.mirror.paths import STATE_DIR, key_of
from bucketsync.sinks.mirror.store import MirrorStore

log = logging.getLogger(__name__)

STALE_TEMP_SECONDS = 3600.0  # a temporary file this old was left by a crash


def count_untracked_and_clear_stale_temps(root: Path, store: MirrorStore) -> int:
    """How many files under ``root`` the mirror did not write (left alone); and, in the same
    walk, the temporary files an interrupted download left over an hour ago, removed."""
    untracked = 0
    now = time.time()
    for directory, subdirectories, files in os.walk(root):
        here = Path(directory)
        if here == root and STATE_DIR in subdirectories:
            subdirectories.remove(STATE_DIR)
        for name in files:
            path = here / name
            if name.startswith(TEMP_PREFIX):
                _remove_if_stale(path, now)
                continue
            try:
                entry = store.get(key_of(root, path))
            except UnsafeKeyError:
                entry = None
            if (
                entry is None
                or not entry.on_disk
                or entry.path != path.relative_to(root).as_posix()
            ):
                untracked += 1
    return untracked


def _remove_if_stale(path: Path, now: float) -> None:
    try:
        # ctime, not mtime: a finished download sets the object's (old) mtime just before
        # its rename, and that must not make it look abandoned.
        if now - path.lstat().st_ctime > STALE_TEMP_SECONDS:
            path.unlink()
            log.info("removed %s, a temporary file left by an interrupted download", path)
    except OSError:
        pass
