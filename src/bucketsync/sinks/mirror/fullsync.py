"""Full sync: a listing compare that makes the mirror equal the bucket.

A lock-step march of two sorted sequences, the bucket's listing and the store's rows (S3 and
SQLite both order keys by their UTF-8 bytes), with three outcomes as in rclone:

    listed only            download
    in both                download if the size or etag differ, or the file is not there
    in the store only      remove, if its row is older than the listing and the run saw no
                           listing error

Downloads start while the listing goes on, on the sink's pool. Each page's updates carry an
observation stamp taken before that page was requested; deletes carry the one taken before
the listing began. A row written after the listing began (an event's download) is never
deleted: the row is filtered here, and the sink checks again under the key's lock.
Files under the root that the store does not know (a user's) are counted, never touched.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import translate
from bucketsync.engine.stamp import ObservationClock
from bucketsync.engine.state import ABSENT, ObjectState, Outcome, Update
from bucketsync.errors import ConfigurationError
from bucketsync.sinks.mirror.download import TEMP_PREFIX
from bucketsync.sinks.mirror.paths import STATE_DIR, UnsafeKeyError, key_of
from bucketsync.sinks.mirror.sink import MirrorSink
from bucketsync.sinks.mirror.store import Entry, MirrorStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

MAX_DETAILS = 10_000  # the counts stay exact past it
MAX_ERRORS = 100
STALE_TEMP_SECONDS = 3600.0  # a temporary file this old was left by a crash


@dataclass
class SyncDetail:
    operation: str  # "download", "delete", "skip", "refuse"
    key: str
    status: str  # "success", "failed", "skipped"
    message: str = ""


@dataclass
class SyncReport:
    """What one full sync did. ``listed`` leaves folder placeholders out; ``skipped`` counts
    unchanged objects, objects over the size limit, and updates a newer state overtook."""

    listed: int = 0
    downloaded: int = 0
    skipped: int = 0
    deleted: int = 0
    failed: int = 0
    deletes_refused: bool = False
    errors: list[str] = field(default_factory=list)
    details: list[SyncDetail] = field(default_factory=list)
    seconds: float = 0.0
    refused: int = 0  # keys that cannot be written safely (see the details for why)
    untracked: int = 0  # files under the root the mirror did not write: left alone
    started_at: float = 0.0

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)

    def detail(self, operation: str, key: str, status: str, message: str = "") -> None:
        if len(self.details) < MAX_DETAILS:
            self.details.append(SyncDetail(operation, key, status, message))


def scope_of(sink_prefix: str, prefix: str) -> str:
    """The keys one run covers: the narrower of the mirror's prefix and the run's."""
    if prefix.startswith(sink_prefix):
        return prefix
    if sink_prefix.startswith(prefix):
        return sink_prefix
    raise ConfigurationError(f"prefix {prefix!r} is outside the mirror's prefix {sink_prefix!r}")


def full_sync(
    sink: MirrorSink,
    s3: S3Client,
    bucket: str,
    *,
    prefix: str = "",
    clock: ObservationClock | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    page_size: int = 1000,
) -> SyncReport:
    """Download what is missing or changed under the prefix, remove what is gone.

    ``progress(done, total)`` is called as objects are settled (total grows with the listing).
    ``cancel`` stops the run early: nothing more is started and nothing is deleted.
    """
    run = _Run(sink, bucket, clock or ObservationClock(), progress)
    try:
        run.march(s3, scope_of(sink.prefix, prefix), cancel, page_size)
        run.settle(everything=True)
        if not (cancel and cancel.is_set()):
            run.report.untracked = count_untracked(sink.root, sink.store)
    finally:
        run.drop_pending()
    report = run.report
    report.seconds = time.monotonic() - run.began
    log.info(
        "full sync of s3://%s/%s: %d listed, %d downloaded, %d skipped, %d deleted, "
        "%d refused, %d failed%s in %.1f s",
        bucket,
        prefix,
        report.listed,
        report.downloaded,
        report.skipped,
        report.deleted,
        report.refused,
        report.failed,
        ", deletes refused" if report.deletes_refused else "",
        report.seconds,
    )
    return report


class _Run:
    def __init__(
        self,
        sink: MirrorSink,
        bucket: str,
        clock: ObservationClock,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.sink = sink
        self.bucket = bucket
        self.clock = clock
        self.progress = progress
        self.report = SyncReport()
        self.pending: dict[Future[Outcome], tuple[str, str]] = {}  # → (operation, key)
        self.in_flight = max(2 * sink.concurrency, 8)  # keeps the pool busy, and short
        self.total = self.done = 0
        self.began = time.monotonic()
        self.started = self.clock.stamp()  # before the listing: the deletes' stamp
        self.report.started_at = time.time()

    def march(
        self, s3: S3Client, scope: str, cancel: threading.Event | None, page_size: int
    ) -> None:
        rows = _Rows(self.sink.store, scope, page_size)
        gone: list[str] = []
        listing_error = ""
        last = ""
        pages = _pages(s3, self.bucket, scope, clock=self.clock, cancel=cancel, page_size=page_size)
        for stamp, objects, page_error in pages:
            error = page_error
            for obj in objects:
                key = obj["Key"]
                if key <= last:  # the march relies on the order: never guess
                    error = error or f"the listing is out of order at {key!r}"
                    break
                last = key
                while (row := rows.head()) is not None and row.key < key:
                    gone.extend(self.gone(rows.pop()))
                held = rows.pop() if (row := rows.head()) is not None and row.key == key else None
                self.listed(obj, held, stamp)
            self.tick()
            if error:
                listing_error = error
                break
        if listing_error:
            self.report.deletes_refused = True
            self.report.error(listing_error)
            log.warning("full sync: %s: deleting nothing in this run", listing_error)
            return
        while rows.head() is not None:
            gone.extend(self.gone(rows.pop()))
        for key in gone:
            if cancel is not None and cancel.is_set():
                self.report.error("cancelled before every delete was made")
                return
            self.submit("delete", Update(self.bucket, key, ABSENT, self.started, ()))

    def listed(self, obj: Any, held: Entry | None, stamp: str) -> None:
        key = obj["Key"]
        if not self.sink.in_scope(self.bucket, key):
            return  # a folder placeholder: no file stands for it
        self.report.listed += 1
        self.total += 1
        state = ObjectState(
            present=True,
            size=obj.get("Size"),
            etag=str(obj.get("ETag", "")).strip('"') or None,
            last_modified=obj.get("LastModified"),
            storage_class=obj.get("StorageClass"),
        )
        if held is not None and _equal(self.sink.root, held, state):
            self.report.skipped += 1
            self.done += 1
            return
        self.submit("download", Update(self.bucket, key, state, stamp, ()))

    def gone(self, row: Entry) -> list[str]:
        """[row's key] if it may be deleted: written before the listing began."""
        return [row.key] if row.updated_at < self.report.started_at else []

    def submit(self, operation: str, update: Update) -> None:
        if operation == "delete":
            self.total += 1
        self.pending[self.sink.submit(update)] = (operation, update.key)
        if len(self.pending) >= self.in_flight:
            self.settle()

    def settle(self, *, everything: bool = False) -> None:
        while self.pending:
            finished, _ = wait(self.pending, return_when=FIRST_COMPLETED)
            for future in finished:
                operation, key = self.pending.pop(future)
                self.record(operation, key, future)
                self.done += 1
            self.tick()
            if not everything:
                return

    def record(self, operation: str, key: str, future: Future[Outcome]) -> None:
        report = self.report
        error = future.exception()
        if error is not None:
            report.failed += 1
            report.error(f"{operation} {key}: {error}")
            report.detail(operation, key, "failed", str(error))
            return
        outcome = future.result()
        if outcome is Outcome.APPLIED:
            if operation == "delete":
                report.deleted += 1
            else:
                report.downloaded += 1
            report.detail(operation, key, "success")
        elif outcome is Outcome.REJECTED:
            report.refused += 1
            report.detail("refuse", key, "failed", _reason(self.sink.store, key))
        elif outcome is Outcome.STALE:
            report.skipped += 1
            message = "a newer state of this key is mirrored, or on its way"
            report.detail(operation if operation == "delete" else "skip", key, "skipped", message)
        else:
            report.skipped += 1
            report.detail("skip", key, "skipped", _reason(self.sink.store, key))

    def tick(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total)

    def drop_pending(self) -> None:
        """On the way out early: what has not started is not started."""
        for future in self.pending:
            future.cancel()
        self.pending.clear()


def _pages(
    s3: S3Client,
    bucket: str,
    scope: str,
    *,
    clock: ObservationClock,
    cancel: threading.Event | None,
    page_size: int,
) -> Iterator[tuple[str, list[Any], str]]:
    """(stamp taken before the request, objects, '' or why the listing stopped) per page."""
    token = None
    while True:
        if cancel is not None and cancel.is_set():
            yield "", [], "cancelled"
            return
        stamp = clock.stamp()
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": scope, "MaxKeys": page_size}
        if token:
            request["ContinuationToken"] = token
        try:
            page = s3.list_objects_v2(**request)
        except (ClientError, BotoCoreError) as exc:
            yield stamp, [], str(translate(exc, f"ListObjectsV2 s3://{bucket}/{scope}"))
            return
        token = page.get("NextContinuationToken")
        truncated = bool(page.get("IsTruncated"))
        if truncated and not token:
            yield stamp, list(page.get("Contents", [])), "a truncated page with no next token"
            return
        yield stamp, list(page.get("Contents", [])), ""
        if not truncated:
            return


class _Rows:
    """The store's present rows under a scope in key order, read a page at a time only as the
    march reaches them: each row is as fresh as it can be when it is compared."""

    def __init__(self, store: MirrorStore, scope: str, page_size: int) -> None:
        self._store = store
        self._scope = scope
        self._page_size = page_size
        self._buffer: deque[Entry] = deque()
        self._after: str | None = None
        self._exhausted = False

    def head(self) -> Entry | None:
        if not self._buffer and not self._exhausted:
            page = self._store.entries(self._scope, after=self._after, limit=self._page_size)
            self._buffer.extend(page)
            self._exhausted = len(page) < self._page_size
            if page:
                self._after = page[-1].key
        return self._buffer[0] if self._buffer else None

    def pop(self) -> Entry:
        return self._buffer.popleft()


def _equal(root: Path, held: Entry, state: ObjectState) -> bool:
    """The one comparison: same size and etag, and the file is there with that size."""
    if not (held.on_disk and held.size == state.size and held.etag == state.etag):
        return False
    try:
        return (root / held.path).stat().st_size == held.size
    except OSError:
        return False


def _reason(store: MirrorStore, key: str) -> str:
    entry = store.get(key)
    return entry.reason if entry is not None else ""


def count_untracked(root: Path, store: MirrorStore) -> int:
    """Files under ``root`` the mirror did not write; temporary files a crash left are removed."""
    untracked = 0
    now = time.time()
    for directory, subdirectories, files in os.walk(root):
        here = Path(directory)
        if here == root and STATE_DIR in subdirectories:
            subdirectories.remove(STATE_DIR)
        for name in files:
            path = here / name
            if name.startswith(TEMP_PREFIX):
                _remove_if_stale(path, now)
                continue
            try:
                entry = store.get(key_of(root, path))
            except UnsafeKeyError:
                entry = None
            if (
                entry is None
                or not entry.on_disk
                or entry.path != path.relative_to(root).as_posix()
            ):
                untracked += 1
    return untracked


def _remove_if_stale(path: Path, now: float) -> None:
    try:
        # ctime, not mtime: a finished download sets the object's (old) mtime just before
        # its rename, and that must not make it look abandoned.
        if now - path.lstat().st_ctime > STALE_TEMP_SECONDS:
            path.unlink()
            log.info("removed %s, a temporary file left by an interrupted download", path)
    except OSError:
        pass
