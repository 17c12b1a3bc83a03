"""S3 keys as DynamoDB sort keys, and listing them back in S3's key order.

DynamoDB caps a sort key at 1,024 bytes and an S3 key may be 1,024 bytes itself, so a sort key
that would be too long keeps the key's first bytes and a digest of the whole key (``bounded``).
The digest breaks byte order only among keys sharing those first bytes; ``in_key_order``
restores it by sorting each such run, which DynamoDB returns contiguously.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

MAX_SORT_KEY_BYTES = 1024
DIGEST_MARK = "~"
# Below the shortest kept prefix (1024 - a 4-byte head - a 65-byte digest - a split character):
# keys sharing these bytes are the only ones whose sort keys can be out of order.
GROUP_BYTES = 900

LAST_CHARACTER = "\U0010ffff"  # sorts after every character a key can hold

T = TypeVar("T")


def bounded(head: str, key: str, tail: str = "") -> str:
    """``head + key + tail``, or, when that exceeds 1024 bytes, ``head + <the key's first
    bytes> + ~<sha256 of the key> + tail``: still unique, still sorted and prefix-queryable
    by its first ~950 bytes. Keep the full key in an attribute of its own.
    """
    whole = f"{head}{key}{tail}"
    if len(whole.encode()) <= MAX_SORT_KEY_BYTES:
        return whole
    digest = DIGEST_MARK + hashlib.sha256(key.encode()).hexdigest()
    room = MAX_SORT_KEY_BYTES - len(f"{head}{digest}{tail}".encode())
    kept = key.encode()[:room].decode(errors="ignore")  # never split a character
    return f"{head}{kept}{digest}{tail}"


def lower_bound(key: str) -> str:
    """A prefix of ``key`` no longer than any kept prefix: ``sort key >= head + this`` finds
    ``key`` and everything after it, whether or not its sort key was bounded."""
    return key.encode()[:GROUP_BYTES].decode(errors="ignore")


def in_key_order(items: Iterable[T], key: Callable[[T], str]) -> Iterator[T]:
    """``items`` (in sort key order) in the order of their full keys."""
    run: list[T] = []
    group: bytes | None = None
    for item in items:
        raw = key(item).encode()
        mine = raw[:GROUP_BYTES] if len(raw) >= GROUP_BYTES else None
        if run and mine != group:
            yield from sorted(run, key=key)
            run = []
        if mine is None:
            yield item
        else:
            run.append(item)
        group = mine
    yield from sorted(run, key=key)
