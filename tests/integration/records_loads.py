"""What the records sink's integration tests load with: the worker drained once, the rows a
file holds now, its manifest, and JSON Lines of ``n`` rows."""

from __future__ import annotations

import json
from typing import Any

from bucketsync.aws.clients import Clients
from bucketsync.local.stack import Stack
from bucketsync.runtimes.build import build_worker
from bucketsync.settings import Settings
from bucketsync.sinks.records.reader import RecordsReader


def sync(settings: Settings, clients: Clients, stack: Stack) -> None:
    stats = build_worker(settings, clients, queue_url=stack.queue_url, threads=1).drain()
    assert stats.failed == 0, stats


def current(clients: Clients, table: str, stack: Stack, key: str) -> list[dict[str, Any]]:
    return list(RecordsReader(clients.dynamodb, table).rows(stack.bucket, key))


def manifest(clients: Clients, table: str, stack: Stack, key: str) -> Any:
    return RecordsReader(clients.dynamodb, table).manifest(stack.bucket, key)


def lines(n: int, tag: str) -> bytes:
    return "".join(json.dumps({"i": i, "v": tag}) + "\n" for i in range(n)).encode()
