"""The mirror as reconcile lists it: its store's rows in key order, checked against the disk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from bucketsync.engine.state import Held
from bucketsync.sinks.mirror.files import on_disk
from bucketsync.sinks.mirror.ordering import held_of
from bucketsync.sinks.mirror.store import Entry, MirrorStore

LISTING_PAGE = 1000


def held_entries(
    store: MirrorStore, root: Path, prefix: str, start_after: str, upto: str | None
) -> Iterator[Held]:
    """The rows a page at a time. A row equals its object only if its file is there with its
    size: a missing or changed file lists without an etag."""
    after: str | None = start_after or None
    while True:
        page = store.entries(prefix, after=after, upto=upto, limit=LISTING_PAGE, present_only=False)
        for entry in page:
            yield _held(root, entry)
        if len(page) < LISTING_PAGE:
            return
        after = page[-1].key


def _held(root: Path, entry: Entry) -> Held:
    held = held_of(entry)
    if entry.present and not (entry.on_disk and on_disk(root, entry)):
        # too large, refused, or a file gone or changed on disk: listed as something to do
        # again, so reconcile submits it and the sink decides (skip, refuse, download)
        return replace(held, etag=None)
    return held
