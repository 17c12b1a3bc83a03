"""The catalog table's key layout (seed 000): one table serves many buckets.

    pk = BUCKET#<bucket>      sk = KEY#<key>                 current state (or tombstone)
    pk = BUCKET#<bucket>      sk = JOURNAL#<key>#<rev>       one item per change (journal mode)

``expires_at`` is the TTL attribute (epoch seconds) on tombstones and journal items.
"""

from __future__ import annotations

import hashlib
from typing import Any

PK = "pk"
SK = "sk"
TTL_ATTRIBUTE = "expires_at"
KEY_PREFIX = "KEY#"
JOURNAL_PREFIX = "JOURNAL#"


def partition_key(bucket: str) -> str:
    return f"BUCKET#{bucket}"


# DynamoDB caps a sort key at 1024 bytes; S3 keys may be 1024 bytes themselves.
MAX_SORT_KEY_BYTES = 1024
_DIGEST_MARK = "~"


def _bounded(head: str, key: str, tail: str = "") -> str:
    """``head + key + tail``, or, when that exceeds 1024 bytes, ``head + <the key's first
    bytes> + ~<sha256 of the key> + tail``: still unique, still sorted and prefix-queryable
    by its first ~900 bytes. The full key is always kept in ``object_key``.
    """
    whole = f"{head}{key}{tail}"
    if len(whole.encode()) <= MAX_SORT_KEY_BYTES:
        return whole
    digest = _DIGEST_MARK + hashlib.sha256(key.encode()).hexdigest()
    room = MAX_SORT_KEY_BYTES - len(f"{head}{digest}{tail}".encode())
    kept = key.encode()[:room].decode(errors="ignore")  # never split a character
    return f"{head}{kept}{digest}{tail}"


def sort_key(key: str) -> str:
    return _bounded(KEY_PREFIX, key)


def key_prefix(prefix: str) -> str:
    """What ``begins_with`` compares for a listing by key prefix."""
    return f"{KEY_PREFIX}{prefix}"


def journal_sort_key(key: str, rev: str) -> str:
    return _bounded(JOURNAL_PREFIX, key, f"#{rev}")


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
