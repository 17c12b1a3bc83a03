"""The local mirror: every object of a bucket (or prefix) as a file under one directory.

``paths``     key ⇄ path, reversibly, never outside the root (``local_path``, ``key_of``)
``store``     the SQLite state store: per key, what is on disk and under which stamp
``storefile`` the store's database file: still the one opened, whole? put back, set aside
``guard``     before each batch: the store checked, put back or rebuilt; tombstones purged
``ordering``  whether an update may change what the mirror holds for a key
``download``  one GetObject streamed into one file, atomically and verified
``marks``     the mirror's mark on its files (an extended attribute naming the key)
``adopt``     files already on disk taken for their objects instead of downloaded again
``files``     the mirror's files: clashes, removal, still the one written?
``sink``      ``MirrorSink``: the engine's sink, listed and repaired by reconcile
``untracked`` files under the root the mirror did not write
``opened``    a mirrored file opened for serving, only if it is the one the mirror wrote

A full sync is reconcile's march over the mirror (``bucketsync.reconcile.mirror``); it is also how
a lost store is rebuilt, handed to each sink as it is built (``rebuild=``) since the sinks never
import reconcile.

docs/mirror.md has the rules: the path table, ordering, integrity, and full sync.
"""

from __future__ import annotations

from bucketsync.sinks.mirror.download import TEMP_PREFIX
from bucketsync.sinks.mirror.opened import Opened, open_mirrored
from bucketsync.sinks.mirror.paths import key_of, local_path
from bucketsync.sinks.mirror.sink import MirrorSink, Rebuild
from bucketsync.sinks.mirror.store import Entry, MirrorStore
from bucketsync.sinks.mirror.untracked import count_untracked_and_clear_stale_temps

__all__ = [
    "TEMP_PREFIX",
    "Entry",
    "MirrorSink",
    "MirrorStore",
    "Opened",
    "Rebuild",
    "count_untracked_and_clear_stale_temps",
    "key_of",
    "local_path",
    "open_mirrored",
]
