"""Catalog items built from updates: layout, tombstones, the 400 KB limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bucketsync.engine.state import ABSENT, ObjectState
from bucketsync.engine.update import Update
from bucketsync.errors import SinkWriteError
from bucketsync.events import Change, ChangeKind
from bucketsync.sinks.catalog import schema
from bucketsync.sinks.catalog.item import MAX_ITEM_BYTES, current_item, item_size, journal_item
from bucketsync.sinks.sortkey import MAX_SORT_KEY_BYTES

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def update(state: ObjectState, kind: ChangeKind = ChangeKind.CREATED, key: str = "k") -> Update:
    change = Change(
        "b",
        key,
        kind,
        "ObjectCreated:Put" if kind is ChangeKind.CREATED else "ObjectRemoved:Delete",
        sequencer="0A",
        requester="AWS:AIDA",
        source_ip="10.0.0.1",
        request_id="R1",
        event_time=NOW,
    )
    return Update("b", key, state, "S0A", (change,))


def test_live_item_has_the_seed_layout_and_s3_metadata_columns() -> None:
    state = ObjectState(
        present=True,
        size=3,
        etag="abc-2",
        content_type="text/plain",
        last_modified=NOW,
        version_id="v1",
        storage_class="STANDARD",
        is_multipart=True,
        encryption="aws:kms",
        kms_key_id="arn:key",
        checksum_algorithm="CRC32",
        metadata={"owner": "ops"},
    )
    item = current_item(update(state), now=NOW, tombstone_ttl_seconds=60)
    assert item["pk"] == "BUCKET#b" and item["sk"] == "KEY#k"
    assert item["bucket"] == "b" and item["object_key"] == "k"
    assert item["size"] == 3 and item["etag"] == "abc-2"
    assert item["content_type"] == "text/plain"
    assert item["last_modified"] == "2026-11-23T12:00:00+00:00"
    assert item["event_type"] == "ObjectCreated:Put"
    assert item["synced_at"] == NOW.isoformat()
    assert item["is_multipart"] is True and item["encryption"] == "aws:kms"
    assert item["requester"] == "AWS:AIDA" and item["source_ip"] == "10.0.0.1"
    assert item["request_id"] == "R1" and item["sequencer"] == "0A"
    assert item["deleted"] is False and "expires_at" not in item


def test_tombstone_carries_a_ttl_and_no_object_columns() -> None:
    item = current_item(update(ABSENT, ChangeKind.REMOVED), now=NOW, tombstone_ttl_seconds=60)
    assert item["deleted"] is True
    assert item["expires_at"] == int(NOW.timestamp()) + 60
    assert "size" not in item and "etag" not in item


def test_oversized_preview_and_metadata_are_dropped_to_fit_400_kb() -> None:
    huge = ObjectState(present=True, size=1, etag="e", preview="x" * MAX_ITEM_BYTES)
    item = current_item(update(huge), now=NOW, tombstone_ttl_seconds=60)
    assert item["preview"] is None and item["truncated"] is True
    assert item_size(item) < MAX_ITEM_BYTES


def test_an_item_that_cannot_fit_is_a_sink_write_error() -> None:
    # S3 keys are at most 1 KB, so this only guards against misuse; it must still be refused.
    with pytest.raises(SinkWriteError, match="400 KB"):
        current_item(
            update(ObjectState(present=True), key="k" * MAX_ITEM_BYTES),
            now=NOW,
            tombstone_ttl_seconds=60,
        )


def test_journal_item_is_keyed_per_change_and_expires() -> None:
    u = update(ObjectState(present=True, size=1, etag="e"))
    assert u.change is not None
    entry = journal_item(u, u.change, now=NOW, ttl_seconds=3600)
    assert entry["sk"].startswith("JOURNAL#k#0A#")
    assert entry["record_type"] == "CREATE"
    assert entry["expires_at"] == int(NOW.timestamp()) + 3600


@pytest.mark.parametrize("length", [1020, 1021, 1024])
def test_keys_up_to_s3s_1024_bytes_fit_dynamodbs_sort_key(length: int) -> None:
    key = "k" * (length - 2) + "é"  # a 2-byte character at the cut
    for sk in (schema.sort_key(key), schema.journal_sort_key(key, "S" + "0" * 64 + "#etag")):
        assert len(sk.encode()) <= MAX_SORT_KEY_BYTES
    assert schema.sort_key(key) != schema.sort_key(key[:-1] + "e")  # still unique
    assert schema.sort_key(key).startswith(schema.key_prefix("k" * 900))  # still prefix-listable
    item = current_item(
        update(ObjectState(present=True, size=1), key=key), now=NOW, tombstone_ttl_seconds=1
    )
    assert item["object_key"] == key
