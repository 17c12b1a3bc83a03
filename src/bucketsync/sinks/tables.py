"""The DynamoDB tables bucketsync creates: one layout for the catalog and the records tables.

    pk (S, partition) + sk (S, sort), on-demand billing
    GSI bucketsync-manifests: _mb (S) + _mk (S), projecting what reconcile compares

The index is sparse: only records manifests carry ``_mb`` and ``_mk`` (``records.index``), so
it costs nothing for the catalog's items or the rows, and lists a bucket's manifests in key
order. The catalog table has it too: manifests of rows keyed by their own fields live there.
"""

from __future__ import annotations

from typing import Any

PK = "pk"
SK = "sk"
MANIFEST_INDEX = "bucketsync-manifests"
INDEX_PARTITION = "_mb"
INDEX_SORT = "_mk"
INDEX_PROJECTED = ("rev", "wrote", "status", "etag", "size", "load_identity")


def table_definition(table: str) -> dict[str, Any]:
    """CreateTable arguments: on-demand billing, string pk/sk, the manifests index."""
    return {
        "TableName": table,
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in (PK, SK, INDEX_PARTITION, INDEX_SORT)
        ],
        "KeySchema": [
            {"AttributeName": PK, "KeyType": "HASH"},
            {"AttributeName": SK, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": MANIFEST_INDEX,
                "KeySchema": [
                    {"AttributeName": INDEX_PARTITION, "KeyType": "HASH"},
                    {"AttributeName": INDEX_SORT, "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": list(INDEX_PROJECTED),
                },
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
