"""The one normalised change record every envelope is parsed into."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ChangeKind(StrEnum):
    """What happened to the object in the current view: it exists now, or it is gone."""

    CREATED = "created"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Change:
    """One object-level change in a bucket, as S3 reported it.

    ``key`` is already decoded (S3 notifications URL-encode it; it is decoded exactly once, at
    the edge). ``sequencer`` is S3's per-key ordering token, as sent (hex, unpadded); compare
    with :func:`bucketsync.events.sequencer.sequencer_sort_key`, never as raw strings.
    ``etag`` carries no quotes. Fields an envelope does not carry are ``None``.
    """

    bucket: str
    key: str
    kind: ChangeKind
    event_name: str
    event_time: datetime | None = None
    sequencer: str | None = None
    version_id: str | None = None
    size: int | None = None
    etag: str | None = None
    requester: str | None = None
    source_ip: str | None = None
    request_id: str | None = None
    region: str | None = None
    # True when a versioned bucket created a delete marker: the object is gone from the
    # current view, though its versions remain.
    delete_marker: bool = False

    @property
    def removes_specific_version(self) -> bool:
        """A permanent delete of one version: the current view may still hold an older version."""
        return (
            self.kind is ChangeKind.REMOVED
            and self.version_id is not None
            and not self.delete_marker
        )
