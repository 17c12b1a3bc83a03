"""The mirror's mark on the files it writes: an extended attribute naming the file's key.

The state store is the record of which files the mirror wrote; the mark is a second one that
lives on the files themselves, so it outlives a store that was deleted or corrupted while the
mirror was stopped. A file whose mark names the very key its path maps to was written by the
mirror for that key (``adopt.import_marked``): when the store is rebuilt, it gets a row again,
so a full sync removes it if its object is gone, instead of counting it ``untracked`` forever.

The mark says whose file it is, never what is in it: nothing is served or kept on its word
(the content is checked, ``adopt.adoptable``). A copy (``cp -a``) somewhere else under the root
carries a key that is not its path's, so it is not taken for the mirror's.

Best effort: a file system without user extended attributes (some network and FUSE mounts;
tmpfs before Linux 6.6) keeps no mark, and files of objects deleted while the store was lost
are then only counted as untracked, never removed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

MARK = "user.bucketsync.key"


def mark(fd: int, key: str) -> None:
    """Mark the open file ``fd`` as the mirror's file for ``key`` (its ctime changes, not its
    mtime or size: the identity the store records is unaffected)."""
    try:
        os.setxattr(fd, MARK, key.encode("utf-8", "surrogatepass"))
    except OSError as exc:  # unsupported here, or no room for attributes: the mark is a bonus
        log.debug("cannot mark the file for %r: %s", key, exc)


def marked_key(path: Path) -> str | None:
    """The key the mark on ``path`` names (the link itself, if it is one); None if unmarked."""
    try:
        value = os.getxattr(path, MARK, follow_symlinks=False)
    except OSError:
        return None
    try:
        return value.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None
