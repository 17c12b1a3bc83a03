"""The catalog table's key layout (seed 000): one table serves many buckets.

    pk = BUCKET#<bucket>      sk = KEY#<key>                 current state (or tombstone)
    pk = BUCKET#<bucket>      sk = JOURNAL#<key>#<rev>       one item per change (journal mode)

``expires_at`` is the TTL attribute (epoch seconds) on tombstones and journal items.
"""

from __future__ import annotations

from bucketsync.sinks.sortkey import bounded
from bucketsync.sinks.tables import PK, SK

__all__ = ["PK", "SK"]
TTL_ATTRIBUTE = "expires_at"
KEY_PREFIX = "KEY#"
JOURNAL_PREFIX = "JOURNAL#"


def partition_key(bucket: str) -> str:
    return f"BUCKET#{bucket}"


def sort_key(key: str) -> str:
    return bounded(KEY_PREFIX, key)


def key_prefix(prefix: str) -> str:
    """What ``begins_with`` compares for a listing by key prefix."""
    return f"{KEY_PREFIX}{prefix}"


def journal_sort_key(key: str, rev: str) -> str:
    return bounded(JOURNAL_PREFIX, key, f"#{rev}")
