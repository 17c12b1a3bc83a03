"""Files already on disk, taken for what they are instead of downloaded again or left untracked.

Two cases, both after the store lost track of the directory (a rebuild) or never knew it (a
mirror started over a directory that already holds the bucket's files):

* ``adoptable``: a file at a key's path that already holds the object an update describes is
  recorded as the mirror's (with its identity, and the mark) instead of downloaded again.
  Whether it holds it:

      the etag is 32 hex digits      its MD5 is the etag (the file is read once: a proof,
      (a single-part upload)         and cheaper than the download it saves)
      any other etag (multipart, or  its mtime is the object's Last-Modified, to the
      SSE-KMS as the update says)    nanosecond, and its size the object's

  A multipart etag is an MD5 of the parts' MD5s, and the part size is not known, so the
  content cannot be proved without the parts. The mirror itself sets each file's mtime to its
  object's Last-Modified (whole seconds); a file with that exact time and size is the one the
  mirror wrote for that version, or a copy made with its times kept: rsync's "quick check",
  and the same trust in the file system's metadata the store's own identity check places. A
  file with another time or size is downloaded again. Without a Last-Modified (lean events)
  nothing is adopted that way. An etag of 32 hex digits that is no MD5 (SSE-KMS or SSE-C the
  update does not name, as a listing's never does) fails the MD5 check: downloaded again.

* ``import_marked``: the files whose mark (``marks``) names the key their path maps to get a
  row again (their etag unknown), so the rebuild's full sync either adopts them (their object
  is listed) or removes them (it is gone). A user's file has no mark and is never removed.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from stat import S_ISREG

from bucketsync.engine.state import ObjectState
from bucketsync.errors import UnsafeKeyError
from bucketsync.sinks.mirror.download import TEMP_PREFIX, is_md5_form, md5_identity
from bucketsync.sinks.mirror.marks import mark, marked_key
from bucketsync.sinks.mirror.paths import STATE_DIR, key_of
from bucketsync.sinks.mirror.store import Identity, MirrorStore

log = logging.getLogger(__name__)

_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NOT_MD5 = frozenset({"aws:kms", "aws:kms:dsse"})


def adoptable(path: Path, key: str, state: ObjectState) -> Identity | None:
    """The identity of the file at ``path`` if it holds the object ``state`` describes (see
    the table above), marked as the mirror's file for ``key``; None if it does not."""
    if state.size is None or not state.etag:
        return None
    try:
        fd = os.open(path, _FILE)
    except OSError:  # nothing there (the usual case), a link, a directory
        return None
    try:
        found = os.fstat(fd)
        if not S_ISREG(found.st_mode) or found.st_size != state.size:
            return None
        if is_md5_form(state.etag) and state.encryption not in _NOT_MD5:
            identity = md5_identity(fd, state.etag, state.size)
        elif _same_time(found.st_mtime_ns, state.last_modified):
            identity = Identity.of(found)
        else:
            identity = None
        if identity is not None:
            mark(fd, key)
        return identity
    except OSError:
        return None
    finally:
        os.close(fd)


def _same_time(mtime_ns: int, modified: datetime | None) -> bool:
    """The mtime the mirror gives a file of an object last modified at ``modified``."""
    return modified is not None and mtime_ns == int(modified.timestamp() * 1e9)


def import_marked(root: Path, store: MirrorStore, prefix: str, stamp: str) -> int:
    """A row (etag unknown, under ``stamp``) for each file under ``root`` whose mark names its
    own key, in the mirror's scope, that the store has no row for; how many."""
    imported = 0
    for directory, subdirectories, files in os.walk(root):
        here = Path(directory)
        if here == root and STATE_DIR in subdirectories:
            subdirectories.remove(STATE_DIR)
        for name in files:
            if name.startswith(TEMP_PREFIX):
                continue
            path = here / name
            key = marked_key(path)
            if key is None or not key.startswith(prefix) or key.endswith("/"):
                continue
            try:
                if key_of(root, path) != key:  # a copy of the mirror's file, made elsewhere
                    continue
                found = os.lstat(path)
            except (UnsafeKeyError, OSError):
                continue
            if not S_ISREG(found.st_mode) or store.get(key) is not None:
                continue
            relative = path.relative_to(root).as_posix()
            identity = Identity.of(found)
            store.record(
                key, path=relative, present=True, stamp=stamp, size=found.st_size, identity=identity
            )
            imported += 1
    if imported:
        log.info("%d file(s) under %s carry the mirror's mark: tracked again", imported, root)
    return imported
