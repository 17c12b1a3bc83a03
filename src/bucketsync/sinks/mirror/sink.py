"""The mirror sink: each object as a file under a root directory, kept in step by updates.

Per key, under that key's lock (check → download → rename → store write, so two threads
never interleave on one key)::

    row = store.get(key) ── decide(row, update) ── STALE: nothing touched
                                 │
             create: too large? clash? unchanged? ── GetObject(IfMatch) → temp → rename
             delete: unlink the file the mirror wrote, prune empty directories
                                 │
                          store.record(key, stamp)            (the file first, then the row:
                                                               a crash in between costs one
                                                               download, never a wrong file)

Updates run in parallel on the sink's own pool; ``apply`` returns their results in order.
One ``MirrorSink`` per root: the key locks are this process's. Before each batch of events the
store is checked, put back or rebuilt (``guard``); a file already there that holds the object
is adopted rather than downloaded again (``adopt``).

A rebuild is a full sync, reconcile's march over the mirror, and reconcile builds on the sinks:
the sink cannot import it, so it asks for one through the ``rebuild`` it is handed
(``reconcile.mirror.rebuild``, which ``bucketsync.compose`` hands every mirror it builds, for
the runtime that owns it). A mirror built without one fails a batch whose store owes a rebuild
with ``ConfigurationError`` rather than apply events over a store that no longer knows the
directory.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from bucketsync.aws.presigned import ObjectGetter
from bucketsync.engine.state import Held
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import (
    BucketSyncError,
    ClashError,
    ConfigurationError,
    RetryableError,
    TooLargeError,
    UnsafeKeyError,
    fault_of,
)
from bucketsync.sinks.mirror.adopt import adoptable
from bucketsync.sinks.mirror.download import Fetched, fetch, file_mode
from bucketsync.sinks.mirror.files import clash, remove, unchanged
from bucketsync.sinks.mirror.guard import DAY, StoreGuard
from bucketsync.sinks.mirror.listing import held_entries
from bucketsync.sinks.mirror.ordering import Verdict, decide
from bucketsync.sinks.mirror.paths import STATE_DIR, local_path
from bucketsync.sinks.mirror.store import REFUSED, TOO_LARGE, Entry, Identity, MirrorStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

LOCK_STRIPES = 1024
MB = 1024 * 1024
COUNTERS = ("downloaded", "skipped", "adopted", "deleted", "refused", "failed", "stale", "bytes")

Rebuild = Callable[["MirrorSink", "S3Client", str], object]
"""``rebuild(sink, s3, bucket)``: a full sync of the mirror that clears its store's rebuild,
raising if it could not finish (``reconcile.mirror.rebuild``)."""


class MirrorSink:
    name = "mirror"

    def __init__(
        self,
        s3: S3Client,
        root: Path,
        *,
        store: MirrorStore | None = None,
        prefix: str = "",
        max_file_bytes: int | None = None,
        verify: bool = True,
        skip_existing: bool = True,
        concurrency: int = 8,
        read_timeout: float | None = None,
        attempts: int = 3,
        backoff: float = 0.2,
        bucket: str | None = None,
        tombstone_ttl_days: float = 30.0,
        rebuild: Rebuild | None = None,
    ) -> None:
        """``store`` defaults to ``<root>/.bucketsync/state.sqlite`` (closed with the sink).

        ``bucket``: the one a rebuild of the store lists (default: the batch's).
        ``rebuild``: what rebuilds a lost or corrupt store before the next batch of events
        (``reconcile.mirror.rebuild``; ``None``: a batch that needs one fails, see above).
        ``tombstone_ttl_days``: how long a delete's tombstone is kept (the setting of the same
        name, as for the other sinks): longer than any event can be late (SQS keeps a message
        14 days at most), and even a create later than that cannot bring a file back, as its
        download is conditional on the etag of an object that is gone (``download``).

        ``read_timeout`` bounds each read of a body (a socket timeout); waiting for the
        response headers is bounded by the client's own ``read_timeout``. A download that
        fails in a way worth retrying (cut connection, checksum mismatch) is tried
        ``attempts`` times in all before its update fails with ``RetryableError``.
        """
        root.mkdir(parents=True, exist_ok=True)
        self.root = Path(os.path.realpath(root))
        self._owns_store = store is None
        if store is None:
            store = MirrorStore(self.root / STATE_DIR / "state.sqlite")
        self.store = store
        self.prefix = prefix
        self.max_file_bytes = max_file_bytes
        self.verify = verify
        self.skip_existing = skip_existing
        self.read_timeout = read_timeout
        self.concurrency = concurrency
        self.bucket = bucket
        self._s3 = s3
        self.rebuild = rebuild
        self._getter = ObjectGetter(s3)
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._mode = file_mode()
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mirror")
        self._closed = False
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._counts_lock = threading.Lock()
        self.guard = StoreGuard(
            self.root,
            store,
            prefix=prefix,
            rebuild=self._run_rebuild,
            tombstone_seconds=tombstone_ttl_days * DAY,
        )
        self.guard.start()

    # -- the Sink protocol -------------------------------------------------------------------

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]:
        """Several updates run on the sink's pool; one runs in the caller's thread (reconcile
        sends them one by one from threads of its own: a hop to the pool would only cost)."""
        if self._closed:
            return [RuntimeError("the mirror sink is closed")] * len(updates)
        if not all(update.repair for update in updates):  # a reconcile's repairs go straight
            try:
                self.guard.before(self.bucket or updates[0].bucket)
            except (BucketSyncError, sqlite3.Error, OSError) as exc:  # fault_of reads the cause
                self._count("failed", len(updates))
                return [exc] * len(updates)
        if len(updates) == 1:
            future: Future[Outcome] = Future()
            try:
                future.set_result(self._apply_one(updates[0]))
            except Exception as exc:  # as the pool would: the update's result, not a crash
                future.set_exception(exc)
            return [_result(updates[0], future)]
        try:
            futures = [self.submit(update) for update in updates]
        except RuntimeError as exc:  # the pool is shut down: the sink is closed
            return [exc] * len(updates)
        return [_result(update, future) for update, future in zip(updates, futures, strict=True)]

    def submit(self, update: Update) -> Future[Outcome]:
        """Apply one update on the sink's pool (``apply`` in the background)."""
        return self._executor.submit(self._apply_one, update)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        try:
            self.guard.check(closing=True)  # a store deleted under it is put back
        except (BucketSyncError, sqlite3.Error, OSError) as exc:
            log.warning("the mirror's state store could not be checked: %s", exc)
        if self._owns_store:
            self.store.close()

    def _run_rebuild(self, bucket: str) -> None:
        if self.rebuild is None:
            raise ConfigurationError(
                f"the mirror's state store must be rebuilt ({self.store.rebuild_reason}), but "
                "this MirrorSink was built without a rebuild: build it with "
                "rebuild=reconcile.mirror.rebuild (bucketsync.compose does)"
            )
        self.rebuild(self, self._s3, bucket)

    def counters(self) -> dict[str, int]:
        """Since the sink started: downloaded, skipped, adopted (files already there, taken
        without a download), deleted, refused, failed, stale, bytes."""
        with self._counts_lock:
            return dict(self._counts)

    def in_scope(self, bucket: str, key: str) -> bool:
        """Whether the key is one this mirror holds: under the prefix, and not a folder."""
        return key.startswith(self.prefix) and not key.endswith("/")

    def listing(
        self, bucket: str, prefix: str = "", start_after: str = "", upto: str | None = None
    ) -> Iterator[Held]:
        """The store's rows in key order (``mirror.listing``)."""
        return held_entries(self.store, self.root, prefix, start_after, upto)

    # -- one key ------------------------------------------------------------------------------

    def _apply_one(self, update: Update) -> Outcome:
        if not self.in_scope(update.bucket, update.key):
            return Outcome.SKIPPED
        lock = self._locks[zlib.crc32(update.key.encode(errors="surrogatepass")) % LOCK_STRIPES]
        try:
            with lock:
                held = self.store.get(update.key)
                verdict = decide(held, update)
                if verdict is not Verdict.APPLY:
                    outcome = Outcome(verdict.value)  # stale, or for the engine to confirm
                elif update.state.present:
                    outcome = self._create(update, held)
                else:
                    outcome = self._delete(update, held)
        except Exception:
            self._count("failed")
            raise
        self._count({Outcome.STALE: "stale", Outcome.REJECTED: "refused"}.get(outcome, ""))
        return outcome

    def _create(self, update: Update, held: Entry | None) -> Outcome:
        key, state = update.key, update.state
        try:
            path = local_path(self.root, key)
        except UnsafeKeyError as exc:
            return self._refuse(update, "", exc.reason)
        relative = path.relative_to(self.root).as_posix()
        limit = self.max_file_bytes
        if limit is not None and state.size is not None and state.size > limit:
            return self._too_large(update, held, path, state.size)
        taken = clash(self.root, path)
        if taken:
            return self._refuse(update, relative, taken)
        kept = unchanged(held, update, path) if self.skip_existing and held is not None else None
        if held is not None and kept is not None:
            return self._keep(update, relative, kept, "skipped")
        # Unless the row says the file holds another version, it may already hold this one.
        other = held is not None and held.on_disk and held.etag not in (None, state.etag)
        adopted = adoptable(path, key, state) if self.skip_existing and not other else None
        if adopted is not None:
            log.info("adopted %s: it already holds s3://%s/%s", relative, update.bucket, key)
            return self._keep(update, relative, adopted, "adopted")
        try:
            fetched = self._fetch(update, path)
        except TooLargeError as exc:
            return self._too_large(update, held, path, exc.size)
        except ClashError as exc:  # another key's directory appeared meanwhile
            return self._refuse(update, relative, str(exc))
        if fetched is None:
            # 412 / NoSuchKey: the object changed or went since this update was made; the
            # newer state's own update follows, so this one is simply outdated.
            return Outcome.STALE
        self.store.record(
            key,
            path=relative,
            present=True,
            stamp=update.stamp,
            size=fetched.size,
            etag=fetched.etag,
            identity=fetched.identity,
        )
        self._count("downloaded")
        self._count("bytes", fetched.size)
        log.info(
            "mirrored s3://%s/%s → %s (%d bytes, verified: %s)",
            update.bucket,
            key,
            relative,
            fetched.size,
            fetched.verified,
        )
        return Outcome.APPLIED

    def _keep(self, update: Update, relative: str, identity: Identity, counter: str) -> Outcome:
        """Record the file already on disk as the object's, without downloading it. (On the
        skip path the held size and etag are the object's: ``unchanged`` checked them.)"""
        state = update.state
        self.store.record(
            update.key,
            path=relative,
            present=True,
            stamp=update.stamp,
            size=state.size,
            etag=state.etag,
            identity=identity,
        )
        self._count(counter)
        return Outcome.SKIPPED

    def _fetch(self, update: Update, path: Path) -> Fetched | None:
        for attempt in range(1, self._attempts + 1):
            try:
                return fetch(
                    self._getter,
                    update.bucket,
                    update.key,
                    path,
                    etag=update.state.etag,
                    version_id=update.state.version_id,
                    verify=self.verify,
                    max_bytes=self.max_file_bytes,
                    read_timeout=self.read_timeout,
                    mode=self._mode,
                )
            except RetryableError as exc:
                if attempt == self._attempts:
                    raise
                log.info(
                    "s3://%s/%s: attempt %d failed: %s", update.bucket, update.key, attempt, exc
                )
                time.sleep(self._backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _delete(self, update: Update, held: Entry | None) -> Outcome:
        key = update.key
        relative = held.path if held is not None else ""
        if held is not None and held.on_disk:
            try:
                path = local_path(self.root, key)
            except UnsafeKeyError as exc:  # a symbolic link planted since the file was written
                log.warning("not deleting s3://%s/%s: %s", update.bucket, key, exc.reason)
                return Outcome.REJECTED
            if remove(self.root, path, why=f"s3://{update.bucket}/{key} was deleted"):
                self._count("deleted")
                log.info("removed %s (s3://%s/%s deleted)", relative, update.bucket, key)
        self.store.tombstone(key, path=relative, stamp=update.stamp)
        return Outcome.APPLIED

    # -- helpers -------------------------------------------------------------------------------

    def _refuse(self, update: Update, relative: str, reason: str) -> Outcome:
        log.warning("not mirroring s3://%s/%s: %s", update.bucket, update.key, reason)
        self.store.record(
            update.key,
            path=relative,
            present=True,
            stamp=update.stamp,
            size=update.state.size,
            etag=update.state.etag,
            status=REFUSED,
            reason=reason,
        )
        return Outcome.REJECTED

    def _too_large(self, update: Update, held: Entry | None, path: Path, size: int) -> Outcome:
        limit = self.max_file_bytes or 0
        reason = f"{size / MB:,.1f} MB is over the {limit / MB:,.1f} MB limit"
        log.warning("not mirroring s3://%s/%s: %s", update.bucket, update.key, reason)
        if held is not None and held.on_disk:
            # The mirror holds the current content or nothing, never an outdated file.
            remove(self.root, path, why=reason)
        self.store.record(
            update.key,
            path=path.relative_to(self.root).as_posix(),
            present=True,
            stamp=update.stamp,
            size=size,
            etag=update.state.etag,
            status=TOO_LARGE,
            reason=reason,
        )
        self._count("skipped")
        return Outcome.SKIPPED

    def _count(self, name: str, amount: int = 1) -> None:
        if name:
            with self._counts_lock:
                self._counts[name] += amount


def _result(update: Update, future: Future[Outcome]) -> Outcome | BaseException:
    error = future.exception()
    if error is None:
        return future.result()
    if isinstance(error, BucketSyncError):  # ours, raised on purpose: the caller reports it
        return error
    where = f"s3://{update.bucket}/{update.key}"
    if fault_of(error).ours:
        # A full or read-only disk (SQLite's "database or disk is full", ENOSPC, EROFS): a
        # known condition of the host, not a bug; a traceback per key would bury the cause.
        log.warning("mirror: %s not applied: %s: %s", where, type(error).__name__, error)
    else:  # a bug: fail this key, loudly, not the batch
        log.error("mirror: unexpected %s for %s", type(error).__name__, where, exc_info=error)
    return error
