"""Catalog items: one update → the DynamoDB item for its key (and optionally a journal item).

Pure functions over plain Python values, so they are unit-tested without AWS.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bucketsync.engine.ordering import WROTE, observed
from bucketsync.engine.update import Update
from bucketsync.errors import SinkWriteError
from bucketsync.events.model import Change
from bucketsync.sinks.catalog import schema

RECONCILE_EVENT = "bucketsync:Reconcile"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def wrote_stamp(now: datetime) -> str:
    """``now`` as an observation stamp, exact to its microsecond (``engine.ordering``'s wrote)."""
    return observed((now - _EPOCH) // timedelta(microseconds=1) * 1_000)


# DynamoDB's item limit is 400 KB, counting attribute names and values.
MAX_ITEM_BYTES = 400 * 1024
# Leave room for the type overhead DynamoDB adds per attribute.
_SAFE_ITEM_BYTES = MAX_ITEM_BYTES - 8 * 1024


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _event_fields(change: Change | None) -> dict[str, Any]:
    if change is None:  # a repair: no event stands behind it
        return {"event_type": RECONCILE_EVENT}
    return {
        "event_type": change.event_name,
        "event_time": _iso(change.event_time),
        "sequencer": change.sequencer,
        "requester": change.requester,
        "source_ip": change.source_ip,
        "request_id": change.request_id,
    }


def current_item(update: Update, *, now: datetime, tombstone_ttl_seconds: float) -> dict[str, Any]:
    """The item for ``sk = KEY#<key>``: the object's state, or a tombstone with a TTL.

    ``source`` says where the state came from: ``event`` (an event and its HeadObject), or a
    reconcile's ``listing``, ``inventory`` (size, etag, last-modified and storage class only:
    no content type or metadata) or ``head``.
    """
    state = update.state
    change = update.change
    item: dict[str, Any] = {
        schema.PK: schema.partition_key(update.bucket),
        schema.SK: schema.sort_key(update.key),
        "bucket": update.bucket,
        "object_key": update.key,
        "rev": update.stamp,
        WROTE: wrote_stamp(now),
        "synced_at": now.isoformat(),
        "source": update.origin,
        "deleted": not state.present,
        **_event_fields(change),
    }
    if not state.present:
        item["version_id"] = change.version_id if change else None
        item[schema.TTL_ATTRIBUTE] = int(now.timestamp() + tombstone_ttl_seconds)
        return item
    item.update(
        size=state.size,
        etag=state.etag,
        content_type=state.content_type,
        last_modified=_iso(state.last_modified),
        version_id=state.version_id,
        storage_class=state.storage_class,
        is_multipart=state.is_multipart,
        encryption=state.encryption,
        kms_key_id=state.kms_key_id,
        checksum_algorithm=state.checksum_algorithm,
        metadata=dict(state.metadata),
        tags=dict(state.tags) if state.tags is not None else None,
        preview=state.preview,
    )
    return fit(item)


def journal_item(
    update: Update, change: Change, *, now: datetime, ttl_seconds: float
) -> dict[str, Any]:
    """One item per change (S3 Metadata's journal table idea), expiring after ``ttl_seconds``."""
    stamp = change.sequencer or _iso(change.event_time) or update.stamp
    item = {
        schema.PK: schema.partition_key(update.bucket),
        schema.SK: schema.journal_sort_key(update.key, f"{stamp}#{change.etag or '-'}"),
        "bucket": update.bucket,
        "object_key": update.key,
        "record_type": "CREATE" if change.kind.value == "created" else "DELETE",
        "size": change.size,
        "etag": change.etag,
        "version_id": change.version_id,
        "delete_marker": change.delete_marker or None,
        "synced_at": now.isoformat(),
        schema.TTL_ATTRIBUTE: int(now.timestamp() + ttl_seconds),
        **_event_fields(change),
    }
    return fit(item)


def item_size(item: dict[str, Any]) -> int:
    """A close upper bound of DynamoDB's size: UTF-8 names and values."""
    return len(json.dumps(item, default=str, ensure_ascii=False).encode())


def fit(item: dict[str, Any]) -> dict[str, Any]:
    """Shrink what may shrink (preview, then metadata values) to stay under 400 KB."""
    if item_size(item) <= _SAFE_ITEM_BYTES:
        return item
    for optional in ("preview", "tags", "metadata"):
        if item.get(optional) is not None:
            item[optional] = None
            item["truncated"] = True
            if item_size(item) <= _SAFE_ITEM_BYTES:
                return item
    raise SinkWriteError(
        f"catalog item for s3://{item.get('bucket')}/{item.get('object_key')} "
        f"exceeds DynamoDB's 400 KB item limit ({item_size(item)} bytes)"
    )
