"""An S3 Inventory report in place of the bucket's listing, for buckets too large to list.

Listing a billion keys takes a million ListObjectsV2 requests and hours; S3 Inventory writes
the same facts daily, for a fraction of the cost. Two things keep a report from standing in
for a listing as it is:

* **Order.** The march needs keys in strictly increasing order (S3's: UTF-8 bytes, which is
  Python's ``str`` order), and S3 promises none across a report's data files. So the report
  is sorted once, externally: runs of at most ``buffer`` rows are sorted in memory and
  spilled to a temporary directory, and every ``range`` merges the runs (``heapq.merge``),
  each run entered near ``after`` through a sparse index, so a shard reads little more than
  its own keys. Memory stays bounded by ``buffer`` whatever the report's size; a report that
  fits is kept in memory and never spilled.
* **Time.** A report is a snapshot of ``creationTimestamp``, often a day old when it is read.
  Every row, and every range's end, carries that moment's observation stamp, and the rule
  for repairs (``engine.ordering``) applies a repair only over what was written before its
  stamp: whatever an event wrote since the snapshot stands, and a key created since is a
  phantom whose delete the same rule refuses. An old report repairs less; it never undoes::

      report taken (t) ── event writes k (wrote > t) ── repair(k, t) lands: wrote > t → stale

The runs are prepared on the first iteration of any range (the first ``range()`` a march
walks), under a lock, so parallel shards wait for one download and one sort rather than
making their own; a failure there is the march's failure, and the run deletes nothing.
``prepare()`` does it ahead of time. Two current rows for one key fail the range that holds
the key, where the merge meets them side by side, whichever runs they were sorted into.
"""

from __future__ import annotations

import bisect
import heapq
import json
import tempfile
import threading
from collections.abc import Generator, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from bucketsync.engine.ordering import observed
from bucketsync.errors import BucketSyncError, ConfigurationError, ListingError
from bucketsync.reconcile.inventory_files import (
    Manifest,
    Rows,
    download,
    load_manifest,
    manifest_location,
)
from bucketsync.reconcile.listing import Listed

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUFFER = 200_000  # rows sorted in memory at once: a few hundred bytes each
SEEK_EVERY = 1024  # rows between two entries of a spilled run's index


class InventoryListing:
    """The current objects under ``prefix`` of the bucket an Inventory report describes.

    ``manifest`` is ``s3://bucket/path/manifest.json``, or the bucket with the key as ``key``.
    ``source_bucket``, if given, is the bucket the report must be of. The report's
    temporary files go under ``tmpdir`` (the system's by default) until ``close()``.
    """

    origin = "inventory"

    def __init__(
        self,
        s3: S3Client,
        manifest: str,
        key: str | None = None,
        *,
        prefix: str = "",
        buffer: int = BUFFER,
        source_bucket: str | None = None,
        tmpdir: str | Path | None = None,
    ) -> None:
        if buffer < 1:
            raise ConfigurationError(
                f"an inventory's sort buffer holds 1 row or more, not {buffer}"
            )
        self.s3 = s3
        self.prefix = prefix
        self.buffer = buffer
        self.manifest: Manifest = load_manifest(s3, *manifest_location(manifest, key))
        self.bucket = self.manifest.source_bucket
        if source_bucket is not None and source_bucket != self.bucket:
            raise ListingError(
                f"{self.manifest.uri} is a report of s3://{self.bucket}, not s3://{source_bucket}"
            )
        self.created = datetime.fromtimestamp(self.manifest.created_ms / 1000, UTC)
        self.stamp = observed(self.manifest.created_ms * 1_000_000)
        self.rows: int | None = None  # current objects under prefix, once prepared
        self.spilled = 0  # runs written to disk (0: the report fit in the buffer)
        self._tmpdir = tmpdir
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        self._runs: list[_Run] | None = None
        self._failure: BucketSyncError | None = None
        self._closed = False
        self._lock = threading.Lock()

    def range(self, after: str, upto: str | None) -> InventoryRange:
        return InventoryRange(self, after, upto)

    def prepare(self) -> None:
        """Download, verify and sort the report, once; later calls wait for it or return."""
        self._sorted_runs()

    def _sorted_runs(self) -> list[_Run]:
        with self._lock:
            if self._closed:
                raise ListingError(f"{self.manifest.uri}: read after the listing was closed")
            if self._failure is not None:  # one failed report is not downloaded once per shard
                raise type(self._failure)(str(self._failure)) from self._failure
            if self._runs is None:
                try:
                    self._runs = self._sort()
                except BucketSyncError as exc:
                    self._failure = exc
                    raise
            return self._runs

    def close(self) -> None:
        """Remove the temporary files; the listing cannot be read after."""
        with self._lock:
            self._closed = True
            self._runs = None
            temp, self._temp = self._temp, None
        if temp is not None:
            temp.cleanup()

    def __enter__(self) -> InventoryListing:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _sort(self) -> list[_Run]:
        temp = tempfile.TemporaryDirectory(prefix="bucketsync-inventory-", dir=self._tmpdir)
        self._temp = temp
        directory = Path(temp.name)
        rows = Rows(self.manifest, self.prefix, self.stamp)
        runs: list[_Run] = []
        buffer: list[Listed] = []
        try:
            for index, data in enumerate(self.manifest.files):
                path = download(self.s3, self.manifest, data, directory / f"data-{index}")
                try:
                    for listed in rows.read(path, data):
                        if len(buffer) == self.buffer:
                            runs.append(self._spill(buffer, directory / f"run-{len(runs)}"))
                            buffer = []
                        buffer.append(listed)
                finally:
                    path.unlink(missing_ok=True)
            if runs and buffer:
                runs.append(self._spill(buffer, directory / f"run-{len(runs)}"))
            elif buffer:
                buffer.sort(key=_key)
                runs.append(_MemoryRun(buffer))
        except BaseException:
            self._temp = None
            temp.cleanup()
            raise
        self.rows = sum(run.size for run in runs)
        self.spilled = sum(isinstance(run, _FileRun) for run in runs)
        return runs

    def _spill(self, buffer: list[Listed], path: Path) -> _FileRun:
        run = _FileRun(path, len(buffer))
        buffer.sort(key=_key)
        offset = 0
        try:
            with path.open("wb") as out:
                for n, listed in enumerate(buffer):
                    if n % SEEK_EVERY == 0:
                        run.firsts.append(listed.key)
                        run.offsets.append(offset)
                    modified = listed.last_modified
                    line = json.dumps(
                        [
                            listed.key,
                            listed.size,
                            listed.etag,
                            None if modified is None else modified.isoformat(),
                            listed.storage_class,
                        ],
                        separators=(",", ":"),
                    ).encode("ascii")
                    out.write(line + b"\n")
                    offset += len(line) + 1
        except OSError as exc:
            raise ListingError(
                f"{self.manifest.uri}: cannot sort the report in {path}: {exc}"
            ) from exc
        return run


class InventoryRange:
    """The keys ``after < key <= upto`` of a report, in order; ``end_stamp`` is the report's."""

    def __init__(self, listing: InventoryListing, after: str, upto: str | None) -> None:
        self._listing = listing
        self._after = after
        self._upto = upto
        self.end_stamp = listing.stamp

    def __iter__(self) -> Iterator[Listed]:
        listing = self._listing
        runs = listing._sorted_runs()
        last: str | None = None
        with ExitStack() as stack:
            merged = heapq.merge(
                *(
                    stack.enter_context(closing(run.after(self._after, listing.stamp)))
                    for run in runs
                ),
                key=_key,
            )
            for listed in merged:
                if listed.key == last:
                    raise ListingError(
                        f"{listing.manifest.uri}: two current rows for the key {last!r}"
                    )
                if self._upto is not None and listed.key > self._upto:
                    return
                last = listed.key
                yield listed


def _key(listed: Listed) -> str:
    return listed.key


class _Run(Protocol):
    @property
    def size(self) -> int: ...

    def after(self, after: str, stamp: str) -> Generator[Listed, None, None]: ...


@dataclass
class _MemoryRun:
    entries: list[Listed]

    @property
    def size(self) -> int:
        return len(self.entries)

    def after(self, after: str, stamp: str) -> Generator[Listed, None, None]:
        start = bisect.bisect_right(self.entries, after, key=_key)
        for n in range(start, len(self.entries)):
            yield self.entries[n]


@dataclass
class _FileRun:
    """A sorted run on disk: one JSON array a line, and where every ``SEEK_EVERY``-th begins."""

    path: Path
    size: int
    firsts: list[str] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)

    def after(self, after: str, stamp: str) -> Generator[Listed, None, None]:
        block = bisect.bisect_right(self.firsts, after) - 1  # keys before it are all <= after
        try:
            with self.path.open("rb") as lines:
                if block > 0:
                    lines.seek(self.offsets[block])
                for line in lines:
                    key, size, etag, modified, storage_class = json.loads(line)
                    if key <= after:
                        continue
                    moment = None if modified is None else datetime.fromisoformat(modified)
                    yield Listed(key, size, etag, moment, storage_class, stamp)
        except OSError as exc:
            raise ListingError(f"cannot read the sorted report in {self.path}: {exc}") from exc
