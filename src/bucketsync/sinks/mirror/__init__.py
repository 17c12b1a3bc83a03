"""The local mirror: every object of a bucket (or prefix) as a file under one directory.

``paths``     key ⇄ path, reversibly, never outside the root (``local_path``, ``key_of``)
``store``     the SQLite state store: per key, what is on disk and under which stamp
``ordering``  whether an update may change what the mirror holds for a key
``download``  one GetObject streamed into one file, atomically and verified
``sink``      ``MirrorSink``: the engine's sink, and what a full sync submits to
``fullsync``  ``full_sync``: a listing compare; ``periodic``: it on a schedule

docs/mirror.md has the rules: the path table, ordering, integrity, and full sync.
"""

from __future__ import annotations

from bucketsync.sinks.mirror.fullsync import SyncDetail, SyncReport, full_sync
from bucketsync.sinks.mirror.paths import UnsafeKeyError, key_of, local_path
from bucketsync.sinks.mirror.periodic import PeriodicSync
from bucketsync.sinks.mirror.sink import MirrorSink
from bucketsync.sinks.mirror.store import Entry, MirrorStore

__all__ = [
    "Entry",
    "MirrorSink",
    "MirrorStore",
    "PeriodicSync",
    "SyncDetail",
    "SyncReport",
    "UnsafeKeyError",
    "full_sync",
    "key_of",
    "local_path",
]
