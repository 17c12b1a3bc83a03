"""Reading a file's current rows: the manifest's generation, and only rows that carry it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

from bucketsync.aws.dynamo import paged_items
from bucketsync.sinks.records.claims import Manifest
from bucketsync.sinks.records.layout import ROW_PREFIX, file_partition
from bucketsync.sinks.records.manifest import ManifestStore
from bucketsync.sinks.records.target import RESERVED

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_de = TypeDeserializer()


class RecordsReader:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self.table = table
        self._manifests = ManifestStore(client, table)

    def manifest(self, bucket: str, key: str) -> Manifest | None:
        return self._manifests.read(bucket, key)

    def rows(self, bucket: str, key: str) -> Iterator[dict[str, Any]]:
        """The current generation's rows in file order, without the table's own attributes."""
        manifest = self.manifest(bucket, key)
        if manifest is None or manifest.gen is None:
            return
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :row)",
            "FilterExpression": "#g = :gen",
            "ExpressionAttributeNames": {"#g": "_gen"},
            "ExpressionAttributeValues": {
                ":p": {"S": file_partition(bucket, key)},
                ":row": {"S": ROW_PREFIX},
                ":gen": {"N": str(manifest.gen)},
            },
            "ConsistentRead": True,
        }
        for item in paged_items(self._client, "query", request):
            yield {k: _de.deserialize(v) for k, v in item.items() if k not in RESERVED}
