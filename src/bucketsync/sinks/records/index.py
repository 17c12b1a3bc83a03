"""A bucket's manifests in key order: what the records sink holds, for reconcile.

Every manifest carries ``_mb`` (its store and bucket) and ``_mk`` (its key), the keys of a
sparse global secondary index, ``bucketsync-manifests``, on the manifests' table: one Query
lists a bucket's files in S3's key order without reading a single row. A table made before the
index existed is scanned instead (every item read: a warning says so).

What a manifest holds, as reconcile compares it: a ``complete`` load of version ``etag``; a
version that ``failed`` to parse (``load_identity``: reconcile need not try it again); a load
in progress (no etag: not equal, so reconcile claims it, and waits or resumes); a tombstone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

from bucketsync.aws.dynamo import describe_indexes, paged_items
from bucketsync.engine.state import Held
from bucketsync.sinks.records.layout import file_partition, index_partition
from bucketsync.sinks.records.manifest import ManifestStore
from bucketsync.sinks.sortkey import LAST_CHARACTER, in_key_order, lower_bound
from bucketsync.sinks.tables import INDEX_PARTITION, INDEX_SORT, MANIFEST_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

log = logging.getLogger(__name__)

_de = TypeDeserializer()


def manifests(
    client: DynamoDBClient,
    store: ManifestStore,
    bucket: str,
    prefix: str,
    *,
    start_after: str = "",
    upto: str | None = None,
) -> Iterator[Held]:
    """What ``store`` holds for ``bucket`` under ``prefix``, in ``(start_after, upto]``, in
    key order."""
    head = file_partition(bucket, "")
    items = (
        _indexed(client, store, bucket, prefix, start_after=start_after, upto=upto)
        if MANIFEST_INDEX in describe_indexes(client, store.table)
        else _scanned(client, store, bucket, prefix)
    )
    for item in in_key_order(items, key=lambda item: str(item["pk"])[len(head) :]):
        key = str(item["pk"])[len(head) :]
        if (upto is not None and key > upto) or (key > prefix and not key.startswith(prefix)):
            return
        if key > start_after and key.startswith(prefix):
            yield held(key, item)


def held(key: str, item: dict[str, Any]) -> Held:
    status = item.get("status")
    if status == "complete":
        etag = item.get("etag") or None
    elif status == "failed":
        etag = item.get("load_identity") or None
    else:  # loading (or a load that never finished): not equal to anything
        etag = None
    size = item.get("size") if status == "complete" else None
    return Held(
        key=key,
        stamp=str(item.get("rev", "")),
        present=status != "deleted",
        size=int(size) if size is not None else None,
        etag=str(etag) if etag else None,
        wrote=str(item.get("wrote", "")),
    )


def _indexed(
    client: DynamoDBClient,
    store: ManifestStore,
    bucket: str,
    prefix: str,
    *,
    start_after: str,
    upto: str | None,
) -> Iterator[dict[str, Any]]:
    # As the catalog's listing: from the bound of start_after to past the bound of upto.
    # (A key attribute's value may not be empty: no bound is written as no condition.)
    lower = lower_bound(start_after) if start_after >= prefix else prefix
    values: dict[str, Any] = {":mb": {"S": index_partition(store.sk, bucket)}}
    bounds = []
    if lower:
        bounds.append("#mk >= :from")
        values[":from"] = {"S": lower}
    if upto is not None:
        bounds.append("#mk <= :to")
        values[":to"] = {"S": lower_bound(upto) + LAST_CHARACTER}
    if len(bounds) == 2:
        bounds = ["#mk BETWEEN :from AND :to"]
    request = {
        "TableName": store.table,
        "IndexName": MANIFEST_INDEX,
        "KeyConditionExpression": " AND ".join(["#mb = :mb", *bounds]),
        "ExpressionAttributeNames": {"#mb": INDEX_PARTITION, "#mk": INDEX_SORT}
        if bounds
        else {"#mb": INDEX_PARTITION},
        "ExpressionAttributeValues": values,
    }
    for raw in paged_items(client, "query", request):
        yield {k: _de.deserialize(v) for k, v in raw.items()}


def _scanned(
    client: DynamoDBClient, store: ManifestStore, bucket: str, prefix: str
) -> Iterator[dict[str, Any]]:
    log.warning(
        "table %s has no %s index: scanning the whole table to list its manifests "
        "(see docs/reconcile.md to add the index)",
        store.table,
        MANIFEST_INDEX,
    )
    request = {
        "TableName": store.table,
        "FilterExpression": "sk = :sk AND begins_with(pk, :pk)",
        "ExpressionAttributeValues": {
            ":sk": {"S": store.sk},
            ":pk": {"S": file_partition(bucket, prefix)},
        },
        "ConsistentRead": True,
    }
    found = [
        {k: _de.deserialize(v) for k, v in raw.items()}
        for raw in paged_items(client, "scan", request)
    ]
    yield from sorted(found, key=lambda item: str(item["pk"]))
