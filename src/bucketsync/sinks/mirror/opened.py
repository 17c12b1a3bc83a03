"""Opening the mirror's own file for a key, once, following no link.

The service serves what this returns: an open descriptor, never a path. A path checked and
then opened by name can be swapped in between (a symbolic link put in its place, or a
directory on the way replaced by one), so the walk goes from the root's directory descriptor,
one segment at a time, each opened with ``O_NOFOLLOW`` relative to the last: no link is ever
followed below the root. The file is opened ``O_NONBLOCK`` (a FIFO planted there answers at
once instead of hanging a thread) and kept only if ``fstat`` shows the regular file the mirror
wrote: the identity its store recorded (device, inode, size, mtime), so a hard link to a file
elsewhere, or the file edited in place, is not taken for it.

A row written before identities were kept has none: its file's content is checked against the
object's MD5 etag once, and the identity it has is adopted; without an MD5 etag it is not
served until a sync writes it again.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from bucketsync.sinks.mirror.download import recheck
from bucketsync.sinks.mirror.paths import relative_path
from bucketsync.sinks.mirror.store import Entry, Identity, MirrorStore

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class Opened:
    """A mirrored file, open: read it through ``fd`` (the caller closes it)."""

    fd: int
    entry: Entry
    stat: os.stat_result


def open_mirrored(root: Path, store: MirrorStore, key: str) -> Opened | None:
    """The mirror's file for ``key``, open; None if the mirror holds none that is still the one
    it wrote. ``UnsafeKeyError`` for a key the mirror cannot map to a file."""
    relative_path(key)  # a key no file can be written for is the client's mistake (400)
    entry = store.get(key)
    if entry is None or not entry.on_disk:
        return None
    try:
        fd = _walk(root, entry.path)
    except OSError:
        return None  # gone, a link on the way, a directory where a file was: not the mirror's
    try:
        found = os.fstat(fd)
        if stat.S_ISREG(found.st_mode) and _is_ours(fd, found, entry, store):
            return Opened(fd, entry, found)
    except OSError:
        pass
    os.close(fd)
    return None


def _walk(root: Path, relative: str) -> int:
    """``root/relative`` opened segment by segment, no link followed below ``root``."""
    *directories, name = relative.split("/")
    # The root itself is the user's setting, and may well be a link: it alone is followed.
    current = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for directory in directories:
            following = os.open(directory, _DIRECTORY, dir_fd=current)
            os.close(current)
            current = following
        return os.open(name, _FILE, dir_fd=current)
    finally:
        os.close(current)


def _is_ours(fd: int, found: os.stat_result, entry: Entry, store: MirrorStore) -> bool:
    if entry.identity is not None:
        return Identity.of(found) == entry.identity
    checked = recheck(fd, entry)
    return checked is not None and store.adopt(entry, checked)
