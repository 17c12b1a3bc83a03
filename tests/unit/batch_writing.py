"""What the BatchWriter tests (``test_batch_writer_*.py``) write with: a writer on table
``t`` keyed by ``pk`` and ``sk``, its items, and a thread-safe fake client over a dict."""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import EndpointConnectionError

from bucketsync.aws.batch_write import BatchWriter

TABLE = "t"
KEYS = ("pk", "sk")


def writer(client: Any, sleeps: list[float] | None = None, **options: Any) -> BatchWriter:
    options.setdefault("in_flight", 1)
    options.setdefault("sleep", (sleeps if sleeps is not None else []).append)
    return BatchWriter(client, TABLE, key_attributes=KEYS, **options)


def item(i: int, **extra: Any) -> dict[str, Any]:
    return {"pk": "p", "sk": f"k{i}", **extra}


class FakeTable:
    """A thread-safe BatchWriteItem over a dict; ``answers`` are consumed one per call:
    ``None`` refuses the call with ``error``, a list of booleans marks which requests (by
    position) come back unprocessed. Once they run out, every call succeeds."""

    def __init__(self, answers: list[list[bool] | None] | None = None) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.answers = list(answers or [])
        self.error: Exception = EndpointConnectionError(endpoint_url="http://dynamodb")
        self.calls = 0
        self.running = 0
        self.most_running = 0
        self.lock = threading.Lock()

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            self.hold()
            return self.apply(RequestItems[TABLE])
        finally:
            with self.lock:
                self.running -= 1

    def hold(self) -> None:
        """Overridden to block calls."""

    def apply(self, requests: list[dict[str, Any]]) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
            answer = self.answers.pop(0) if self.answers else []
            if answer is None:
                raise self.error
            left = [r for r, keep in zip(requests, answer, strict=False) if keep]
            for request in requests:
                if any(request is r for r in left):
                    continue
                if "PutRequest" in request:
                    body = request["PutRequest"]["Item"]
                    self.items[body["pk"]["S"], body["sk"]["S"]] = body
                else:
                    body = request["DeleteRequest"]["Key"]
                    self.items.pop((body["pk"]["S"], body["sk"]["S"]), None)
        return {"UnprocessedItems": {TABLE: left}} if left else {}
