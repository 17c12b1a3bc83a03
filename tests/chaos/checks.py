"""After the drain: each sink against the bucket, and the dead-letter queues.

Drift is counted per sink in rclone's three classes (as ``bucketsync reconcile`` reports it):
``missing`` (in the bucket, not in the sink), ``stale`` (in both, another version or other
bytes), ``phantom`` (in the sink, not in the bucket). Each check reads the sink's real
storage through public interfaces (the catalog and records tables, the mirror's directory),
not the workers' state.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from bucketsync.aws.clients import Clients
from bucketsync.errors import UnsafeKeyError
from bucketsync.reconcile import catalog_fingerprints, compare, list_bucket
from bucketsync.sinks.catalog.reader import CatalogReader
from bucketsync.sinks.mirror.download import TEMP_PREFIX
from bucketsync.sinks.mirror.paths import STATE_DIR, key_of
from bucketsync.sinks.records.reader import RecordsReader
from tests.chaos.history import History, expected_rows, is_routed, mirrorable

SHOWN = 5  # keys shown per class


@dataclass
class SinkDrift:
    name: str
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    phantom: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # not drift, but worth saying
    why: dict[str, str] = field(default_factory=dict)  # key -> how it differs, where known

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.stale) + len(self.phantom)

    def line(self) -> str:
        text = (
            f"{self.name}: {len(self.missing)} missing, {len(self.stale)} stale, "
            f"{len(self.phantom)} phantom"
        )
        return text + "".join(f"; {note}" for note in self.notes)

    def details(self) -> str:
        parts = []
        for kind in ("missing", "stale", "phantom"):
            keys: list[str] = getattr(self, kind)
            if keys:
                parts.append(f"{self.name} {kind} (first {SHOWN}): {keys[:SHOWN]!r}")
                parts += [f"  {key!r}: {self.why[key]}" for key in keys[:SHOWN] if key in self.why]
        return "\n".join(parts)


def bucket_fingerprints(clients: Clients, bucket: str) -> dict[str, tuple[int | None, str | None]]:
    return dict(list_bucket(clients.s3, bucket))


def catalog_drift(clients: Clients, bucket: str, table: str, history: History) -> SinkDrift:
    """The catalog's live items against the listing (``reconcile.compare``), and every key
    that existed once and is gone now a tombstone, not an item that came back."""
    listing = bucket_fingerprints(clients, bucket)
    reader = CatalogReader(clients.dynamodb, table)
    drift = compare(listing, catalog_fingerprints(reader.list(bucket)))
    result = SinkDrift("catalog", drift.missing, drift.different, drift.extra)
    tombstones = sum(
        1
        for key in history.ever_created - listing.keys()
        if (item := reader.get(bucket, key)) is not None and item.get("deleted") is True
    )
    result.notes.append(f"{tombstones} tombstones")
    return result


def records_drift(clients: Clients, bucket: str, table: str, history: History) -> SinkDrift:
    """Per routed file ever written: present → its manifest complete on the object's etag,
    its rows exactly the file's, no row of another generation left; gone → no rows and no
    live manifest."""
    reader = RecordsReader(clients.dynamodb, table)
    result = SinkDrift("records")
    rows_checked = 0
    for key in sorted(k for k in history.ever_created if is_routed(k)):
        manifest = reader.manifest(bucket, key)
        items = _file_items(clients, table, bucket, key)
        body = history.current.get(key)
        if body is None:
            live = manifest is not None and manifest.status != "deleted"
            if live or items > (1 if manifest is not None else 0):
                result.phantom.append(key)
            continue
        etag = hashlib.md5(body).hexdigest()
        if manifest is None or manifest.status not in ("complete",):
            result.missing.append(key)
            continue
        rows = list(reader.rows(bucket, key))
        wanted = expected_rows(key, body)
        rows_checked += len(wanted)
        why = []
        if manifest.raw.get("etag") != etag:
            why.append(f"manifest etag {manifest.raw.get('etag')} != {etag}")
        if rows != wanted:
            why.append(f"{len(rows)} current rows != the file's {len(wanted)}")
        if items != len(wanted) + 1:
            why.append(f"{items} items in the partition != {len(wanted)} rows + manifest")
        if why:
            result.stale.append(key)
            result.why[key] = (
                f"{'; '.join(why)} (manifest gen {manifest.gen}, rows {manifest.rows})"
            )
    result.notes.append(f"{rows_checked} rows compared")
    return result


def _file_items(clients: Clients, table: str, bucket: str, key: str) -> int:
    """Items in a file's partition: its rows of every generation, and its manifest."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": f"FILE#{bucket}/{key}"}},
        "Select": "COUNT",
        "ConsistentRead": True,
    }
    count = 0
    while True:
        answer = clients.dynamodb.query(**request)
        count += int(answer["Count"])
        if "LastEvaluatedKey" not in answer:
            return count
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def mirror_drift(root: Path, history: History) -> SinkDrift:
    """Every file under the mirror's root, byte for byte, against the objects it must hold
    (every key but folder placeholders, which the mirror skips by design). The mirror's own
    state directory is not compared; temporary files a killed download left are counted
    (the mirror removes them once an hour old), not drift."""
    result = SinkDrift("mirror")
    wanted = {key: body for key, body in history.current.items() if mirrorable(key)}
    found: dict[str, bytes] = {}
    leftovers = 0
    unknown = []
    root = Path(os.path.realpath(root))
    for directory, subdirectories, files in os.walk(root):
        here = Path(directory)
        if here == root and STATE_DIR in subdirectories:
            subdirectories.remove(STATE_DIR)
        for name in files:
            path = here / name
            if name.startswith(TEMP_PREFIX):
                leftovers += 1
                continue
            try:
                key = key_of(root, path)
            except UnsafeKeyError:
                unknown.append(str(path.relative_to(root)))
                continue
            found[key] = path.read_bytes()
    for key in sorted(wanted.keys() | found.keys()):
        if key not in found:
            result.missing.append(key)
        elif key not in wanted:
            result.phantom.append(key)
        elif found[key] != wanted[key]:
            result.stale.append(key)
    result.phantom.extend(unknown)
    result.notes.append(f"{len(found)} files compared byte for byte")
    if leftovers:
        result.notes.append(f"{leftovers} temporary files left by killed downloads")
    return result


def drain_queue(clients: Clients, url: str) -> list[str]:
    """Every body in a queue (read, not deleted; each once: they stay out of sight)."""
    bodies: list[str] = []
    empty = 0
    while empty < 2:
        answer = clients.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=300
        )
        messages = answer.get("Messages", [])
        empty = 0 if messages else empty + 1
        bodies.extend(message["Body"] for message in messages)
    return bodies


def dlq_verdict(held: list[str], expected: Counter[str]) -> str | None:
    """None when the DLQ holds exactly the poison copies delivered; else what differs."""
    got = Counter(held)
    if got == expected:
        return None
    foreign = [_describe(body) for body in got if body not in expected]
    short = {
        body[:60]: expected[body] - got[body] for body in expected if got[body] < expected[body]
    }
    return (
        f"{len(foreign)} foreign message(s) (first {SHOWN}): {foreign[:SHOWN]!r}; "
        f"poison missing: {short!r}"
    )


def _describe(body: str) -> str:
    """An S3 event body as its event names and keys; anything else, its first characters."""
    try:
        records = json.loads(body)["Records"]
        return ", ".join(
            f"{record['eventName']} {unquote_plus(record['s3']['object']['key'])!r} "
            f"at {record['eventTime']}"
            for record in records
        )
    except (ValueError, LookupError, TypeError):
        return body[:120]
