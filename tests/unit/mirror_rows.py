"""How the mirror store's tests write a row: a file present at its key's path (the ``store``
fixture, a store in ``tmp_path``, is in the unit conftest)."""

from __future__ import annotations

from bucketsync.sinks.mirror import Entry, MirrorStore


def put(store: MirrorStore, key: str, stamp: str = "O1", size: int = 1) -> Entry:
    return store.record(key, path=key, present=True, stamp=stamp, size=size, etag="e")
