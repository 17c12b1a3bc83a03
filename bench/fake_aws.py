"""Network latency for the benchmarks, added to the emulator or standing in for it.

Both are botocore ``before-send`` hooks, so everything above the HTTP layer (serialising,
signing, retries, parsing) runs exactly as it does against AWS:

* ``Delay``: sleep a fixed time, then let the request go on to the emulator (a simulated
  network round trip on top of the emulator's own time).
* ``FakeWrites``: answer DynamoDB's unconditional writes (PutItem, BatchWriteItem) after a
  latency that grows with the request's size, and let every other request through to the
  emulator: bulk loads measured against AWS-like write latency, with the manifest (conditional
  UpdateItems) still real.
* ``FakeAWS``: sleep a fixed time and answer with a well-formed response without doing any
  work, standing for real AWS's latency without the emulator's CPU ceiling. It keeps just
  enough state to be driven end to end: an SQS queue of message bodies and the size and etag
  of each object HeadObject is asked about. Correctness is proven elsewhere; this measures
  orchestration only.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

JSON_10 = {"Content-Type": "application/x-amz-json-1.0"}


class _Raw(io.BytesIO):
    """The raw body botocore reads an ``AWSResponse`` from."""

    def stream(self, **_: Any) -> Iterable[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def _response(url: str, body: bytes = b"{}", headers: Mapping[str, str] = JSON_10) -> AWSResponse:
    return AWSResponse(url, 200, HTTPHeaders.from_dict(headers), _Raw(body))


def attach(clients: Iterable[Any], hook: Any) -> None:
    for client in clients:
        client.meta.events.register("before-send", hook)


class Delay:
    """Sleep ``seconds`` before every request, then send it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, **_: Any) -> None:
        time.sleep(self.seconds)


class FakeWrites:
    """DynamoDB PutItem, BatchWriteItem and TransactWriteItems answered after ``base + per_kb *
    KB sent``, all written (no UnprocessedItems, every condition holds); anything else goes on
    to the emulator. Counts what it took."""

    WRITES = frozenset(
        {"dynamodb.PutItem", "dynamodb.BatchWriteItem", "dynamodb.TransactWriteItems"}
    )

    def __init__(self, base: float = 0.010, per_kb: float = 0.0001) -> None:
        self.base, self.per_kb = base, per_kb
        self.requests = self.items = 0
        self._lock = threading.Lock()

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.split(".", 1)[1]
        if operation not in self.WRITES:
            return None  # to the emulator
        body = request.body or b""
        items = 1
        if operation.endswith("BatchWriteItem"):
            items = sum(len(v) for v in json.loads(body)["RequestItems"].values())
        elif operation.endswith("TransactWriteItems"):
            items = len(json.loads(body)["TransactItems"])
        with self._lock:
            self.requests += 1
            self.items += items
        time.sleep(self.base + self.per_kb * len(body) / 1024)
        return _response(request.url)


class FakeAWS:
    """Answers S3 HeadObject, DynamoDB writes and SQS receive, delete, visibility and queue
    attributes after ``latency``; any other call raises NotImplementedError, loudly."""

    def __init__(self, latency: float = 0.010, objects: Mapping[str, bytes] | None = None) -> None:
        self.latency = latency
        self._objects = {
            key: (len(body), hashlib.md5(body).hexdigest()) for key, body in (objects or {}).items()
        }
        self._queue: deque[str] = deque()
        self._lock = threading.Lock()
        self._ids = 0

    def enqueue(self, bodies: Iterable[str]) -> None:
        with self._lock:
            self._queue.extend(bodies)

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse:
        time.sleep(self.latency)
        service, operation = event_name.split(".", 2)[1:]  # before-send.<service>.<operation>
        handler = getattr(self, f"_{service}_{operation}", None)
        if handler is None:
            raise NotImplementedError(f"FakeAWS does not answer {service}.{operation}")
        response: AWSResponse = handler(request)
        return response

    # -- S3 -------------------------------------------------------------------------------------

    def _s3_HeadObject(self, request: Any) -> AWSResponse:
        # Path-style: /<bucket>/<key>
        key = unquote(urlsplit(request.url).path.split("/", 2)[2])
        size, etag = self._objects.get(key, (0, "d41d8cd98f00b204e9800998ecf8427e"))
        headers = {
            "Content-Length": str(size),
            "ETag": f'"{etag}"',
            "Content-Type": "text/plain",
            "Last-Modified": "Mon, 23 Nov 2026 12:00:00 GMT",
        }
        return _response(request.url, b"", headers)

    # -- DynamoDB: every write succeeds ---------------------------------------------------------

    def _dynamodb_PutItem(self, request: Any) -> AWSResponse:
        return _response(request.url)

    _dynamodb_DeleteItem = _dynamodb_PutItem
    _dynamodb_TransactWriteItems = _dynamodb_PutItem

    # -- SQS (JSON protocol) --------------------------------------------------------------------

    def _sqs_ReceiveMessage(self, request: Any) -> AWSResponse:
        wanted = int(json.loads(request.body).get("MaxNumberOfMessages", 1))
        with self._lock:
            bodies = [self._queue.popleft() for _ in range(min(wanted, len(self._queue)))]
            first = self._ids
            self._ids += len(bodies)
        messages = [
            {
                "MessageId": f"m{first + n}",
                "ReceiptHandle": f"r{first + n}",
                "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "Body": body,
                "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
            }
            for n, body in enumerate(bodies)
        ]
        return _response(
            request.url, json.dumps({"Messages": messages} if messages else {}).encode()
        )

    def _sqs_GetQueueAttributes(self, request: Any) -> AWSResponse:
        # The worker's heartbeat asks the queue's visibility timeout; no redrive policy (DLQ).
        body = {"Attributes": {"VisibilityTimeout": "30"}}
        return _response(request.url, json.dumps(body).encode())

    def _sqs_ChangeMessageVisibilityBatch(self, request: Any) -> AWSResponse:
        return self._sqs_DeleteMessageBatch(request)

    def _sqs_DeleteMessageBatch(self, request: Any) -> AWSResponse:
        entries = json.loads(request.body)["Entries"]
        body = {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}
        return _response(request.url, json.dumps(body).encode())
