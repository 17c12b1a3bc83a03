"""The catalog table's key layout (seed 000): one table serves many buckets.

    pk = BUCKET#<bucket>      sk = KEY#<key>                 current state (or tombstone)
    pk = BUCKET#<bucket>      sk = JOURNAL#<key>#<rev>       one item per change (journal mode)

``expires_at`` is the TTL attribute (epoch seconds) on tombstones and journal items.
"""

from __future__ import annotations

from typing import Any

PK = "pk"
SK = "sk"
TTL_ATTRIBUTE = "expires_at"
KEY_PREFIX = "KEY#"
JOURNAL_PREFIX = "JOURNAL#"


def partition_key(bucket: str) -> str:
    return f"BUCKET#{bucket}"


def sort_key(key: str) -> str:
    return f"{KEY_PREFIX}{key}"


def journal_sort_key(key: str, rev: str) -> str:
    return f"{JOURNAL_PREFIX}{key}#{rev}"


def table_definition(table: str) -> dict[str, Any]:
    """CreateTable arguments: on-demand billing, string pk/sk."""
    return {
        "TableName": table,
        "AttributeDefinitions": [
            {"AttributeName": PK, "AttributeType": "S"},
            {"AttributeName": SK, "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": PK, "KeyType": "HASH"},
            {"AttributeName": SK, "KeyType": "RANGE"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
