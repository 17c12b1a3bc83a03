"""Before the mirror applies a batch of events: its state store is still its own, whole, and
knows the directory; and tombstones past their retention are purged.

    store.problem() ─ missing / replaced ─► salvage: the open database copied back to its
         │                                  path (nothing lost; a file put there set aside)
         │                                  └ it cannot be read either ─► as corrupt, below
         ├─ corrupt ──► set aside, a new store owing a rebuild, the marked files imported;
         │              this batch fails with StoreCorruptError (ours and lasting: the worker
         │              keeps its messages and pauses; nothing reaches the DLQ)
         └─ none
    a rebuild owed ──► a full sync of the bucket (reconcile: adopt what is on disk, download
                       what is missing, remove what is gone), then the batch; a failed one
                       fails the batch (ours) and is tried again before the next

A new store over a directory that already holds files owes a rebuild too: it may be a store
deleted while the mirror was stopped, and nothing else tells that apart from a first start.
Only events pass the guard; reconcile's repairs (the rebuild's own among them) go straight to
the sink. Checking costs one ``stat`` and a 16-byte read per batch.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from bucketsync.engine.ordering import observed_at
from bucketsync.errors import StoreCorruptError
from bucketsync.sinks.mirror.adopt import import_marked
from bucketsync.sinks.mirror.download import TEMP_PREFIX
from bucketsync.sinks.mirror.paths import STATE_DIR
from bucketsync.sinks.mirror.store import MirrorStore
from bucketsync.sinks.mirror.storefile import CORRUPT, REPLACED, Problem

log = logging.getLogger(__name__)

DAY = 86_400.0
PURGE_EVERY = 3600.0  # seconds between two purges of expired tombstones


class StoreGuard:
    def __init__(
        self,
        root: Path,
        store: MirrorStore,
        *,
        prefix: str,
        rebuild: Callable[[str], object],
        tombstone_seconds: float,
    ) -> None:
        """``rebuild(bucket)``: a full sync of the mirror that clears the store's rebuild
        (``reconcile.mirror.rebuild``), raising if it could not finish."""
        self.root = root
        self.store = store
        self.prefix = prefix
        self.tombstone_seconds = tombstone_seconds
        self._rebuild = rebuild
        self._lock = threading.Lock()  # one recovery at a time; other batches wait for it
        self._purged_at: float | None = None

    def start(self) -> None:
        """At the sink's start: a new store over files owes a rebuild; expired tombstones go."""
        try:
            if self.store.created and _holds_files(self.root):
                self.store.need_rebuild(f"the state store was missing and {self.root} holds files")
            if self.store.rebuild_reason:
                log.warning("the mirror's state store is rebuilt: %s", self.store.rebuild_reason)
                self._import_marked()
            self._purge()
        except StoreCorruptError as exc:  # a damaged page: the first batch sets the file aside
            log.error("%s", exc)

    def before(self, bucket: str) -> None:
        """Make the store fit to apply a batch of ``bucket``'s events; raises (a fault of ours)
        when it is not, so the batch is held, not spent."""
        self._purge_if_due()
        if not self.store.rebuild_reason and self.store.problem() is None:
            return
        with self._lock:
            problem = self.store.problem()
            if problem is not None:
                self._recover(problem, report=True)
            if self.store.rebuild_reason:
                log.warning(
                    "rebuilding the mirror's state store from %s and s3://%s (%s)",
                    self.root,
                    bucket,
                    self.store.rebuild_reason,
                )
                self._rebuild(bucket)

    def check(self, *, closing: bool = False) -> None:
        """Recover a lost or corrupt store, raising nothing: a full sync about to run is the
        rebuild. A closing sink only puts back a store deleted or replaced under it (its open
        connection is about to go); a corrupt one is found again at the next start."""
        with self._lock:
            problem = self.store.problem()
            if problem is not None and not (closing and problem.kind == CORRUPT):
                self._recover(problem, report=False)

    def _recover(self, problem: Problem, *, report: bool) -> None:
        if problem.kind != CORRUPT:
            try:
                rows = self.store.salvage()
            except (sqlite3.Error, OSError) as exc:
                log.error(
                    "the mirror's state store was %s; its copy cannot be read: %s", problem, exc
                )
            else:
                log.warning(
                    "the mirror's state store was %s under the running mirror: restored from "
                    "the open database (%d rows)",
                    problem,
                    rows,
                )
                return
        why = f"the store was {problem}"
        aside = self.store.reset(why, aside=REPLACED if problem.kind == REPLACED else CORRUPT)
        kept = f"; set aside as {aside}" if aside else ""
        log.error("the mirror's state store was %s%s: a new one is rebuilt", problem, kept)
        self._import_marked()
        if report and problem.kind == CORRUPT and not problem.reported:
            raise StoreCorruptError(
                f"the mirror's state store was {problem}{kept}; it is rebuilt from the "
                "directory and the bucket before the next batch"
            )

    def _import_marked(self) -> None:
        import_marked(self.root, self.store, self.prefix, observed_at(self.store.now()))

    def _purge_if_due(self) -> None:
        if self._purged_at is None or self.store.now() - self._purged_at >= PURGE_EVERY:
            self._purge()

    def _purge(self) -> None:
        self._purged_at = self.store.now()
        try:
            purged = self.store.purge_tombstones(self.tombstone_seconds)
        except sqlite3.OperationalError as exc:  # busy, a full disk: next hour, not this batch
            log.warning("tombstones not purged: %s", exc)
            return
        if purged:
            days = self.tombstone_seconds / DAY
            log.info("purged %d tombstone(s) older than %g days", purged, days)


def _holds_files(root: Path) -> bool:
    """Anything under the root but the mirror's own state and temporary files."""
    try:
        with os.scandir(root) as entries:
            return any(
                entry.name != STATE_DIR and not entry.name.startswith(TEMP_PREFIX)
                for entry in entries
            )
    except OSError:
        return False
