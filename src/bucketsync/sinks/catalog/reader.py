"""Reading the catalog back: the current view of a bucket, or one key."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

from bucketsync.aws.dynamo import counted, get_item, paged_items
from bucketsync.sinks.catalog import schema

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal; give callers ints where they are whole."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


class CatalogReader:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self.table = table

    def list(
        self, bucket: str, prefix: str = "", *, include_deleted: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Items of ``bucket`` whose key starts with ``prefix``, in key order."""
        request = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :sk)",
            "ExpressionAttributeValues": {
                ":pk": {"S": schema.partition_key(bucket)},
                ":sk": {"S": schema.key_prefix(prefix)},
            },
        }
        for raw in paged_items(self._client, "query", request):
            item = deserialize(raw)
            if include_deleted or not item.get("deleted"):
                yield item

    def count(self, bucket: str) -> tuple[int, int]:
        """(objects, tombstones) the catalog holds for ``bucket``: one COUNT query, which
        reads (and bills) every item of the bucket's partition once, but returns none."""
        live, read = counted(
            self._client,
            {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :sk)",
                "FilterExpression": "attribute_not_exists(deleted) OR deleted = :no",
                "ExpressionAttributeValues": {
                    ":pk": {"S": schema.partition_key(bucket)},
                    ":sk": {"S": schema.KEY_PREFIX},
                    ":no": {"BOOL": False},
                },
            },
        )
        return live, read - live

    def get(self, bucket: str, key: str) -> dict[str, Any] | None:
        raw = get_item(
            self._client,
            f"GetItem {self.table}",
            {
                "TableName": self.table,
                "Key": {
                    schema.PK: {"S": schema.partition_key(bucket)},
                    schema.SK: {"S": schema.sort_key(key)},
                },
                "ConsistentRead": True,
            },
        )
        return deserialize(raw) if raw else None
