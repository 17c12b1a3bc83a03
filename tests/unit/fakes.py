"""In-memory stand-ins for S3, used by the engine's unit and property tests."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote_plus

from bucketsync.engine.stamp import ObservationClock
from bucketsync.engine.state import ABSENT, ObjectState
from bucketsync.errors import ListingError
from bucketsync.events import Change, ChangeKind
from bucketsync.reconcile.listing import Listed

BUCKET = "bucket"


@dataclass
class FakeBucket:
    """A bucket whose every write emits the change event S3 would send.

    ``lookup`` answers like HeadObject: the state *now*, which may be newer than the event
    being processed.
    """

    with_sequencers: bool = True
    # Real sequencers are fixed-point hex values whose trailing zeros may be dropped; starting
    # just below a round number makes consecutive sequencers differ in length.
    next_sequencer: int = 0xFFFFFA
    objects: dict[str, tuple[int, str]] = field(default_factory=dict)
    lookups: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, key: str, body: bytes) -> Change:
        etag = hashlib.md5(body).hexdigest()
        with self._lock:
            self.objects[key] = (len(body), etag)
            return self._event(key, ChangeKind.CREATED, "ObjectCreated:Put", len(body), etag)

    def delete(self, key: str) -> Change:
        with self._lock:
            self.objects.pop(key, None)
            return self._event(key, ChangeKind.REMOVED, "ObjectRemoved:Delete", None, None)

    def _event(
        self, key: str, kind: ChangeKind, name: str, size: int | None, etag: str | None
    ) -> Change:
        sequencer = None
        if self.with_sequencers:
            sequencer = format(self.next_sequencer, "020X").rstrip("0") or "0"
            self.next_sequencer += 1
        return Change(BUCKET, key, kind, name, sequencer=sequencer, size=size, etag=etag)

    def lookup(self, bucket: str, key: str) -> ObjectState:
        with self._lock:
            self.lookups += 1
            held = self.objects.get(key)
        if held is None:
            return ABSENT
        return ObjectState(present=True, size=held[0], etag=held[1])

    def view(self) -> dict[str, tuple[int | None, str | None]]:
        with self._lock:
            return {key: (size, etag) for key, (size, etag) in self.objects.items()}


def to_body(*changes: Change) -> str:
    """The S3 notification (as an SQS body) that carries ``changes``."""
    records = []
    for change in changes:
        obj: dict[str, object] = {"key": quote_plus(change.key)}
        if change.size is not None:
            obj["size"] = change.size
        if change.etag is not None:
            obj["eTag"] = change.etag
        if change.sequencer is not None:
            obj["sequencer"] = change.sequencer
        if change.version_id is not None:
            obj["versionId"] = change.version_id
        records.append(
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-23T10:00:00.000Z",
                "eventName": change.event_name,
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": change.bucket}, "object": obj},
            }
        )
    return json.dumps({"Records": records})


class FakeListing:
    """A reconcile ``Source`` over a ``FakeBucket``: pages of ``page_size`` keys, each read
    when it is reached and stamped just before, as ListObjectsV2's are. ``between_pages`` runs
    after each page (changes landing while the run goes on); ``fail_at`` raises on that page."""

    origin = "listing"
    prefix = ""

    def __init__(
        self,
        bucket: FakeBucket,
        clock: ObservationClock,
        *,
        page_size: int = 2,
        between_pages: Callable[[int], None] | None = None,
        fail_at: int | None = None,
    ) -> None:
        self.fake = bucket
        self.bucket = BUCKET
        self.clock = clock
        self.page_size = page_size
        self.between_pages = between_pages
        self.fail_at = fail_at
        self.pages = 0

    def range(self, after: str, upto: str | None) -> _FakeRange:
        return _FakeRange(self, after, upto)


class _FakeRange:
    def __init__(self, listing: FakeListing, after: str, upto: str | None) -> None:
        self._listing, self._after, self._upto = listing, after, upto
        self.end_stamp = ""

    def __iter__(self) -> Iterator[Listed]:
        listing, after = self._listing, self._after
        while True:
            self.end_stamp = stamp = listing.clock.stamp()
            listing.pages += 1
            if listing.fail_at is not None and listing.pages >= listing.fail_at:
                raise ListingError("injected: the listing failed")
            view = listing.fake.view()
            keys = sorted(k for k in view if k > after and (self._upto is None or k <= self._upto))
            page = keys[: listing.page_size]
            for key in page:
                size, etag = view[key]
                yield Listed(key, size, etag, stamp=stamp)
            if listing.between_pages is not None:
                listing.between_pages(listing.pages)
            if len(page) < listing.page_size:
                return
            after = page[-1]
