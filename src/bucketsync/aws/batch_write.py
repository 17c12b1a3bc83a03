"""Unconditional DynamoDB writes in bulk: BatchWriteItem, 25 requests a call, several in flight.

For streaming a data file's rows into a table (puts) and removing stale rows (deletes). boto3's
``Table.batch_writer()`` is not enough for that: it re-sends ``UnprocessedItems`` at once, with
no backoff, so a throttled table is hammered; it sends one batch at a time; and it cannot say
which items failed, so its caller can neither report them nor checkpoint.

- Checkpoint: once ``flush()`` returns, every request submitted before it is durably written or
  listed in ``BatchResult.failures`` with its kind, key and the caller's ``tag``. Nothing is
  dropped silently: even a row that cannot be serialised is a failure, not an exception.
- Last write wins, in submission order. BatchWriteItem refuses two requests for one key in a
  call, so a request for a key already buffered replaces the earlier one (``replaced``); and a
  batch holding a key that an earlier batch still has in flight waits for it, so a late retry
  of an old write can never land over a newer one.
- Bounded memory: ``put`` and ``delete`` block while ``in_flight`` batches are pending.
- Retries: ``UnprocessedItems``, and transient failures of a whole call (throttling, 5xx,
  connection errors), are sent again after ``min(max_delay, base_delay * 2**round) * rng()``
  (full jitter), in at most ``max_rounds`` calls. botocore's own retries run beneath, inside
  each call, on whole-call errors only. A call refused as invalid (``ValidationException``: an
  item too large, a key of the wrong type; or any refusal neither transient nor about the
  configuration) is split, each item sent again alone, so the bad one is pinned and the others
  land. A configuration error (no such table, access denied) fails
  its batch and makes every later ``put``/``delete`` raise it.
- Threads: one producer thread calls ``put``, ``delete``, ``flush`` and ``close``; the calls run
  on worker threads (an executor the writer owns unless one is passed). Give the client at
  least ``in_flight`` pooled connections.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bucketsync.aws.dynamo import serialize
from bucketsync.aws.errors import translate
from bucketsync.errors import (
    BucketSyncError,
    ConfigurationError,
    RetryableError,
    SinkWriteError,
    is_retryable,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

log = logging.getLogger(__name__)

BATCH_LIMIT = 25
Kind = Literal["put", "delete"]
_Ident = tuple[str | bytes, ...]


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """A request that was not written. ``is_retryable(error)`` says whether it may succeed
    if sent again later (still throttled after every round) or never will (refused)."""

    kind: Kind
    key: Mapping[str, Any]
    tag: Any
    error: BucketSyncError


@dataclass(slots=True)
class BatchResult:
    """What happened to the requests submitted since the previous ``flush``."""

    written: int = 0
    deleted: int = 0
    failures: list[ItemFailure] = field(default_factory=list)
    requests: int = 0  # BatchWriteItem calls, retries included
    retried_items: int = 0  # item sends beyond each item's first
    replaced: int = 0  # superseded in the buffer by a later request for the same key

    def add(self, other: BatchResult) -> None:
        self.written += other.written
        self.deleted += other.deleted
        self.failures.extend(other.failures)
        self.requests += other.requests
        self.retried_items += other.retried_items
        self.replaced += other.replaced


@dataclass(frozen=True, slots=True)
class _Request:
    kind: Kind
    key: dict[str, Any]
    ident: _Ident
    wire: dict[str, Any]
    tag: Any


@dataclass(slots=True)
class _Tally:
    result: BatchResult = field(default_factory=BatchResult)
    settled: set[_Ident] = field(default_factory=set)
    fatal: ConfigurationError | None = None

    def done(self, request: _Request, error: BucketSyncError | None = None) -> None:
        self.settled.add(request.ident)
        if error is not None:
            self.result.failures.append(ItemFailure(request.kind, request.key, request.tag, error))
        elif request.kind == "put":
            self.result.written += 1
        else:
            self.result.deleted += 1


class BatchWriter:
    """Buffers puts and deletes for one table and writes them with BatchWriteItem."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        key_attributes: tuple[str, ...],
        in_flight: int = 4,
        executor: Executor | None = None,
        max_rounds: int = 8,
        base_delay: float = 0.05,
        max_delay: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not 1 <= len(key_attributes) <= 2 or in_flight < 1 or max_rounds < 1:
            raise ValueError("need 1 or 2 key attributes, in_flight >= 1 and max_rounds >= 1")
        self._client = client
        self._table = table
        self._keys = key_attributes
        self._in_flight = in_flight
        self._owns_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(in_flight, "bucketsync-batch")
        self._max_rounds = max_rounds
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._rng = rng
        # Touched by the producer only.
        self._buffer: dict[_Ident, _Request] = {}
        self._local = BatchResult()
        self._closed = False
        # Shared with the workers, guarded by the condition.
        self._cond = threading.Condition()
        self._pending = 0
        self._busy: set[_Ident] = set()
        self._result = BatchResult()
        self._fatal: ConfigurationError | None = None
        self.final: BatchResult | None = None  # what ``__exit__`` flushed

    def put(self, item: Mapping[str, Any], *, tag: Any = None) -> None:
        self._add("put", item, tag)

    def delete(self, key: Mapping[str, Any], *, tag: Any = None) -> None:
        """Delete by key; attributes other than the key attributes are ignored."""
        self._add("delete", {name: key.get(name) for name in self._keys}, tag)

    def flush(self) -> BatchResult:
        """Send the buffer, wait for every batch in flight, and return the counts since the
        previous flush. Everything submitted before is now written or in ``failures``."""
        if self._buffer:
            self._dispatch()
        with self._cond:
            self._cond.wait_for(lambda: self._pending == 0)
            result, self._result = self._result, BatchResult()
        result.add(self._local)
        self._local = BatchResult()
        return result

    def close(self) -> BatchResult:
        try:
            return self.flush()
        finally:
            self._closed = True
            if self._owns_executor:
                self._executor.shutdown(wait=True)

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.final = self.close()
            return
        # The block failed, so no checkpoint is claimed: the buffer is dropped, and what is
        # already in flight finishes in the background.
        self._closed = True
        if self._owns_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _add(self, kind: Kind, values: Mapping[str, Any], tag: Any) -> None:
        if self._closed:
            raise RuntimeError("BatchWriter is closed")
        if self._fatal is not None:
            raise self._fatal
        key = {name: values.get(name) for name in self._keys}
        try:
            body = serialize(values, keep_null=True)
            ident = self._ident(body)
        except (TypeError, ValueError, ArithmeticError, SinkWriteError) as exc:
            # A bad row (a float, a missing key...) is reported with its tag, not raised, so one
            # row cannot stop a file.
            error = exc if isinstance(exc, SinkWriteError) else SinkWriteError(f"{kind}: {exc}")
            self._local.failures.append(ItemFailure(kind, key, tag, error))
            return
        wire = {"PutRequest": {"Item": body}} if kind == "put" else {"DeleteRequest": {"Key": body}}
        if self._buffer.pop(ident, None) is not None:
            self._local.replaced += 1
        self._buffer[ident] = _Request(kind, key, ident, wire, tag)
        if len(self._buffer) >= BATCH_LIMIT:
            self._dispatch()

    def _ident(self, body: Mapping[str, Any]) -> _Ident:
        ident: list[str | bytes] = []
        for name in self._keys:
            typed = body.get(name)
            if not (
                isinstance(typed, dict) and len(typed) == 1 and next(iter(typed)) in ("S", "N", "B")
            ):
                raise SinkWriteError(f"key attribute {name!r} must be a string, number or binary")
            value = next(iter(typed.values()))
            ident.append(value if isinstance(value, str) else bytes(value))
        return tuple(ident)

    def _dispatch(self) -> None:
        batch = list(self._buffer.values())
        idents = {request.ident for request in batch}
        with self._cond:
            self._cond.wait_for(
                lambda: self._pending < self._in_flight and self._busy.isdisjoint(idents)
            )
            self._pending += 1
            self._busy |= idents
        try:
            self._executor.submit(self._run, batch)
        except BaseException:
            with self._cond:
                self._pending -= 1
                self._busy -= idents
                self._cond.notify_all()
            raise
        self._buffer = {}

    def _run(self, batch: list[_Request]) -> None:
        tally = _Tally()
        try:
            self._send(batch, tally, resent=False)
        except Exception as exc:
            # A bug of ours must not lose items: whatever is not settled is a failure.
            log.exception("BatchWriteItem: unexpected error")
            error = translate(exc, "BatchWriteItem")
            for request in batch:
                if request.ident not in tally.settled:
                    tally.done(request, error)
        finally:
            with self._cond:
                self._result.add(tally.result)
                self._fatal = self._fatal or tally.fatal
                self._pending -= 1
                self._busy -= {request.ident for request in batch}
                self._cond.notify_all()

    def _send(self, batch: list[_Request], tally: _Tally, *, resent: bool) -> None:
        pending = batch
        error: BucketSyncError = RetryableError("BatchWriteItem: not sent")
        for round_ in range(self._max_rounds):
            if round_:
                self._sleep(min(self._max_delay, self._base_delay * 2**round_) * self._rng())
            if round_ or resent:
                tally.result.retried_items += len(pending)
            tally.result.requests += 1
            try:
                response = self._client.batch_write_item(
                    RequestItems={self._table: [request.wire for request in pending]}  # type: ignore[misc]
                )
            except Exception as exc:  # the SDK's errors, whatever their class, are translated
                error = translate(exc, "BatchWriteItem")
                if is_retryable(error):
                    log.debug("%s: round %d of %d", error, round_ + 1, self._max_rounds)
                    continue
                if isinstance(error, SinkWriteError) and len(pending) > 1:
                    for request in pending:
                        self._send([request], tally, resent=True)
                    return
                if isinstance(error, ConfigurationError):
                    tally.fatal = tally.fatal or error
                break
            left = response.get("UnprocessedItems", {}).get(self._table, [])
            unprocessed = {self._ident(_body(entry)) for entry in left}
            for request in pending:
                if request.ident not in unprocessed:
                    tally.done(request)
            pending = [request for request in pending if request.ident in unprocessed]
            if not pending:
                return
            error = RetryableError(
                f"BatchWriteItem: still unprocessed after {self._max_rounds} calls"
            )
        for request in pending:
            tally.done(request, error)


def _body(request: Mapping[str, Any]) -> Mapping[str, Any]:
    put = request.get("PutRequest")
    return put["Item"] if put else request["DeleteRequest"]["Key"]  # type: ignore[no-any-return]
