"""The history: a seeded random sequence of puts, overwrites and deletes, and what it leaves.

Keys come from a pool of about ``keys`` names drawn once from the seed, so they collide (hot
keys get bursts of overwrites). The pool holds hostile names (spaces, ``+``, ``%``, ``%2B``
literally, 2- to 4-byte UTF-8, combining marks, right-to-left text, ``.``/``..`` segments,
empty segments, a leading ``/``, control characters, names of exactly 1,024 bytes) and data
files that the records rules route (``data/**.jsonl|json|csv``), whose rows the history
knows. Excluded, with the reason: a newline in a key (moto's HTTP layer answers 404 to it),
segments over 255 bytes and a key that is another key's "directory" (the mirror refuses
both by design: ``docs/mirror.md``).

``History`` is the model: the bytes each key holds now, what was ever created, counts. The
bucket must equal it after the run (a check of the test itself), and every sink must equal
the bucket.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from bucketsync.errors import UnsafeKeyError
from bucketsync.sinks.mirror.paths import relative_path

DATA_PREFIX: Final = "data/"
ROUTED_SUFFIXES: Final = (".jsonl", ".json", ".csv")
ROWS_TABLE_SUFFIX: Final = "-rows"
MAX_KEY_BYTES: Final = 1024

# Pieces of hostile names; each key combines a few of them.
_HOSTILE_PIECES: Final = (
    "with space",
    "a+b",
    "+lead",
    "100%",
    "%2B literal",
    "%2F not a slash",
    "%%",
    "ünïcødé",
    "日本語",
    "emoji 🎉🧪",
    "e\u0301 combining",
    "עברית rtl",
    "q?x#y&z=1",
    "tab\there",
    "ctl\x01\x1f",
    "del\x7f",
    "nul\x00byte",
    "c1\x85\x9f",
    "trailing space ",
    "~tilde!'()*",
    "[brackets]{}",
    "back\\slash",
    '<lt>&amp;"quote"',
    "...",
    "dotted.name.",
)
_SPECIAL_KEYS: Final = (
    "../up.txt",
    "a/../b.txt",
    "./dot.txt",
    "../../../../etc/passwd",
    "x//double.txt",
    "/leading slash.txt",
    ".bucketsync",
    "folder placeholder/",
    "..",
    "%2E%2E/escaped dots",
)


def _truncate_utf8(text: str, limit: int) -> str:
    encoded = text.encode()[:limit]
    return encoded.decode(errors="ignore")


def _long_key(rng: random.Random, prefix: str) -> str:
    """A key of exactly 1,024 UTF-8 bytes, in segments of at most 150 bytes."""
    segments = []
    total = len(prefix.encode())
    while total < MAX_KEY_BYTES - 170:
        segment = "".join(rng.choice("aé日z_-") for _ in range(rng.randint(30, 80)))
        segment = _truncate_utf8(segment, 150)
        segments.append(segment)
        total += len(segment.encode()) + 1
    key = prefix + "/".join(segments) + "/"
    room = MAX_KEY_BYTES - len(key.encode())
    return key + "t" * room


def _hostile_name(rng: random.Random) -> str:
    pieces = rng.sample(_HOSTILE_PIECES, rng.randint(1, 3))
    segments = [rng.choice(pieces) for _ in range(rng.randint(1, 3))]
    return "/".join(segments) + f" {rng.randrange(10**6)}"


def _plain_name(rng: random.Random, n: int) -> str:
    return f"plain/{rng.choice('abcdef')}/{n:05d}.bin"


def key_pool(rng: random.Random, size: int, routed: float = 0.25) -> list[str]:
    """About ``size`` distinct keys: a share ``routed`` of them data files the records rules
    route, the rest hostile or plain names."""
    candidates: list[str] = [key for key in _SPECIAL_KEYS]
    candidates += [_long_key(rng, f"long {n}/") for n in range(3)]
    candidates.append(_long_key(rng, f"{DATA_PREFIX}long/")[: -len(".jsonl")] + ".jsonl")
    n = 0
    while len(candidates) < size * 2:
        n += 1
        draw = rng.random()
        if draw < routed:
            folder = rng.choice(("", "2026/", "ünï côdé/", "a+b %25/", "../", "x y/z/"))
            candidates.append(
                f"{DATA_PREFIX}{folder}{_hostile_name(rng).replace('/', '_')}"
                f"{rng.choice(ROUTED_SUFFIXES)}"
            )
        elif draw < routed + (1 - routed) * 2 / 3:
            candidates.append(_hostile_name(rng))
        else:
            candidates.append(_plain_name(rng, n))
    pool = []
    for key in dict.fromkeys(candidates):
        if "\n" in key or "\r" in key:  # moto's HTTP layer cannot route it
            continue
        if len(key.encode()) > MAX_KEY_BYTES or not key:
            continue
        if not mirrorable(key) and not key.endswith("/"):
            continue
        pool.append(key)
    pool = _without_clashes(pool)
    rng.shuffle(pool)
    # The special keys and the long ones stay; the rest are trimmed to the size asked.
    keep = [k for k in pool if k in _SPECIAL_KEYS or len(k.encode()) == MAX_KEY_BYTES]
    rest = [k for k in pool if k not in keep]
    return keep + rest[: max(0, size - len(keep))]


def mirrorable(key: str) -> bool:
    """Whether the mirror holds this key as a file (it refuses some by design)."""
    try:
        relative_path(key)
    except UnsafeKeyError:
        return False
    return True


def _without_clashes(keys: list[str]) -> list[str]:
    """Drop every key that is a "directory" of another (``a`` beside ``a/b``): one file
    system cannot hold both, and the mirror refuses the second by design."""
    directories = set()
    for key in keys:
        segments = key.split("/")
        for end in range(1, len(segments)):
            directories.add("/".join(segments[:end]))
    return [key for key in keys if key not in directories]


def is_routed(key: str) -> bool:
    return key.startswith(DATA_PREFIX) and key.endswith(ROUTED_SUFFIXES)


# --- data files and their rows --------------------------------------------------------------


def _text(rng: random.Random) -> str:
    return rng.choice(
        ("apple", "pear", "fig, dried", 'quote "q"', "ünï", "日本", "🎉", "a\tb", "", "x" * 40)
    ) + str(rng.randrange(1000))


def _row(rng: random.Random, index: int) -> dict[str, Any]:
    row: dict[str, Any] = {"id": index, "name": _text(rng), "v": rng.randrange(-(10**12), 10**12)}
    if rng.random() < 0.5:
        row["price"] = float(f"{rng.uniform(0, 1000):.2f}")
    if rng.random() < 0.3:
        row["tags"] = [_text(rng) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.3:
        row["meta"] = {"ok": rng.random() < 0.5, "none": None, "n": rng.randint(0, 9)}
    return row


def data_file(rng: random.Random, key: str) -> bytes:
    """A file the records rules route, of the kind its suffix says, 0 to 25 rows."""
    rows = [_row(rng, i) for i in range(rng.choice((0, 1, 2, 5, 10, 25)))]
    if key.endswith(".jsonl"):
        return "".join(
            json.dumps(row, ensure_ascii=rng.random() < 0.5) + "\n" for row in rows
        ).encode()
    if key.endswith(".json"):
        return json.dumps(rows, indent=rng.choice((None, 1))).encode()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if rng.random() < 0.3 else "\n")
    writer.writerow(["id", "name", "v"])
    for row in rows:
        writer.writerow([row["id"], row["name"] or "-", row["v"]])
    return out.getvalue().encode()


def expected_rows(key: str, body: bytes) -> list[dict[str, Any]]:
    """The rows the records table must hold for ``body``, as DynamoDB gives them back
    (every number a Decimal, as written; CSV cells strings except ``id``, typed int)."""
    text = body.decode()
    if key.endswith(".jsonl"):
        return [
            json.loads(line, parse_float=Decimal, parse_int=Decimal)
            for line in text.splitlines()
            if line.strip()
        ]
    if key.endswith(".json"):
        parsed: list[dict[str, Any]] = json.loads(text, parse_float=Decimal, parse_int=Decimal)
        return parsed
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return [{**row, "id": Decimal(row["id"])} for row in rows]


# --- the history ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    kind: str  # "put" or "delete"
    key: str
    body: bytes = b""


@dataclass
class History:
    """The model: what each key holds now, and what happened."""

    seed: int
    current: dict[str, bytes] = field(default_factory=dict)
    ever_created: set[str] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)

    def apply(self, operation: Operation) -> None:
        if operation.kind == "put":
            self.counts["overwrite" if operation.key in self.current else "create"] += 1
            self.current[operation.key] = operation.body
            self.ever_created.add(operation.key)
        else:
            self.counts["delete" if operation.key in self.current else "delete absent"] += 1
            self.current.pop(operation.key, None)

    def fingerprints(self) -> dict[str, tuple[int, str]]:
        return {
            key: (len(body), hashlib.md5(body).hexdigest()) for key, body in self.current.items()
        }

    @property
    def operations(self) -> int:
        return sum(self.counts.values())


def operations(
    rng: random.Random,
    pool: list[str],
    count: int,
    *,
    hot: float = 0.5,
    drips: float = 0.04,
) -> list[Operation]:
    """``count`` operations over ``pool``, decided up front from ``rng`` (so a seed replays
    them): bursts on one key with probability ``hot``; *drips*, started with probability
    ``drips`` at each step: one key rewritten 3 to 6 times, every 6 to 18 operations (a file
    saved again and again, about once a second: its events' lookups overlap the next change,
    which is where a stale write can land last); deletes a third of the time a key exists
    (and now and then of one that does not)."""
    present: set[str] = set()
    result = []
    dripping: dict[int, list[tuple[str, int, int]]] = {}  # due index -> (key, left, every)
    key = rng.choice(pool)
    for index in range(count):
        due = dripping.pop(index, [])
        if due:
            key, left, every = due[0]
            for other in due[1:]:  # two drips due at once: the other waits a step
                dripping.setdefault(index + 1, []).append(other)
            if left > 1:
                dripping.setdefault(index + every, []).append((key, left - 1, every))
        else:
            if rng.random() < drips:
                drip = rng.choice(pool)
                every = rng.randint(6, 18)
                dripping.setdefault(index + every, []).append((drip, rng.randint(3, 6), every))
            if rng.random() >= hot:
                key = rng.choice(pool)
            if (key in present and rng.random() < 0.33) or rng.random() < 0.02:
                result.append(Operation("delete", key))
                present.discard(key)
                continue
        result.append(_put(rng, key))
        present.add(key)
    return result


def _put(rng: random.Random, key: str) -> Operation:
    if is_routed(key):
        return Operation("put", key, data_file(rng, key))
    size = rng.choice((0, 1, 17, 100, 1000, 4000, rng.randrange(20_000)))
    return Operation("put", key, rng.randbytes(size))
