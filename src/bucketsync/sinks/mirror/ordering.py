"""The mirror's rows under the one ordering rule (``engine.ordering``).

A row's ``updated_at`` is when the mirror wrote it, after the GET (pinned by ``IfMatch``) that
made its file: that is the row's ``wrote``. The rule itself is the engine's; every decision is
taken while holding the key's lock, so the row cannot change under it.
"""

from __future__ import annotations

from bucketsync.engine.ordering import Verdict, observed_at
from bucketsync.engine.ordering import decide as _decide
from bucketsync.engine.state import Held
from bucketsync.engine.update import Update
from bucketsync.sinks.mirror.store import Entry

__all__ = ["Verdict", "decide", "held_of"]


def held_of(entry: Entry) -> Held:
    return Held(
        entry.key, entry.stamp, entry.present, entry.size, entry.etag, observed_at(entry.updated_at)
    )


def decide(held: Entry | None, update: Update) -> Verdict:
    return _decide(None if held is None else held_of(held), update)
