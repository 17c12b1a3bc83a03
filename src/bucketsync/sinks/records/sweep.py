"""Removing a file's rows of other generations (after a load) or all of them (a delete).

Rows under the file's own partition are found by Query; keyed rows (in a shared table) through
the ``bucketsync-file`` index when it carries ``_gen``, else by a filtered Scan.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from boto3.dynamodb.types import TypeDeserializer

from bucketsync.aws.batch_write import BatchWriter
from bucketsync.aws.dynamo import describe_table, paged_items
from bucketsync.sinks.records.keyed import FILE_ATTRIBUTE, FILE_INDEX
from bucketsync.sinks.records.layout import ROW_PREFIX, file_partition

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from bucketsync.sinks.records.target import Target

log = logging.getLogger(__name__)
_deserializer = TypeDeserializer()


def sweep(
    client: DynamoDBClient,
    target: Target,
    bucket: str,
    key: str,
    *,
    keep: int | None,
    in_flight: int = 4,
) -> int:
    """Delete the file's rows of the generations older than ``keep`` (all of them for None).

    Only older: once the flip released the lease, a newer version may already be writing (or
    have made current) a higher generation before this sweep's first query is answered, and
    its rows are not ours to judge. A higher generation abandoned part-way is swept by the
    next load, which is newer than it; readers never see it meanwhile."""
    names = {"#g": "_gen"}
    # No load makes generation 2**53: None sweeps every generation.
    values: dict[str, Any] = {":keep": {"N": str(keep if keep is not None else 2**53)}}
    operation: Literal["query", "scan"]
    if target.key_fields:
        key_attributes = target.key_fields
        names["#f"] = FILE_ATTRIBUTE
        values[":me"] = {"S": f"{bucket}/{key}"}
        projection = ", ".join(f"#k{n}" for n in range(len(key_attributes)))
        names.update({f"#k{n}": field for n, field in enumerate(key_attributes)})
        request: dict[str, Any] = {
            "TableName": target.table,
            "ProjectionExpression": projection,
        }
        if has_file_index(client, target.table):
            operation = "query"
            request |= {"IndexName": FILE_INDEX, "KeyConditionExpression": "#f = :me"}
            request["FilterExpression"] = "#g < :keep"
        else:  # no index on _file: a filtered scan of the shared table finds the rows
            operation = "scan"
            request["FilterExpression"] = "#f = :me AND #g < :keep"
    else:
        key_attributes = ("pk", "sk")
        operation = "query"
        values |= {":p": {"S": file_partition(bucket, key)}, ":row": {"S": ROW_PREFIX}}
        request = {
            "TableName": target.table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :row)",
            "ProjectionExpression": "pk, sk",
            "FilterExpression": "#g < :keep",
        }
    request["ExpressionAttributeNames"] = names
    request["ExpressionAttributeValues"] = values
    with BatchWriter(
        client,
        target.table,
        key_attributes=key_attributes,
        in_flight=in_flight,
    ) as writer:
        for item in paged_items(client, operation, request):
            writer.delete({k: _deserializer.deserialize(item[k]) for k in key_attributes})
        result = writer.flush()
    if result.failures:
        # Not fatal: rows of an old generation are invisible to readers; the next load or
        # a reconcile sweeps them again.
        log.warning("s3://%s/%s: %d stale rows not deleted", bucket, key, len(result.failures))
    return result.deleted


def has_file_index(client: DynamoDBClient, table: str) -> bool:
    """The file index exists and carries _gen (else a filtered scan finds the rows)."""
    for index in describe_table(client, table).get("GlobalSecondaryIndexes", []):
        if index["IndexName"] != FILE_INDEX:
            continue
        projection = index.get("Projection", {})
        if projection.get("ProjectionType") == "ALL" or "_gen" in projection.get(
            "NonKeyAttributes", []
        ):
            return True
        # Without _gen in the index, "not this generation" would match every row.
        log.warning("index %s on %s does not project _gen: scanning instead", FILE_INDEX, table)
    return False
