"""Rows under their own key in a shared table (a rule's ``key``, ``bucketsync load --key``).

Each row is one conditional PutItem, ``attribute_not_exists(<key>) OR _file = :me``: a key
that another file already loaded is refused and reported as a conflict, never overwritten.
Conditions rule out BatchWriteItem, so the puts go out in parallel instead (one write unit
each). The same interface as ``aws.batch_write.BatchWriter``'s put side, so the loader drives both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from bucketsync.aws.batch_write import BatchResult, ItemFailure
from bucketsync.aws.dynamo import ConditionalPut, ConditionalWriter
from bucketsync.errors import BucketSyncError, SinkWriteError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

FILE_ATTRIBUTE = "_file"
# Optional GSI, partition key _file, projecting _gen (INCLUDE or ALL): sweeps query it rather
# than scan the whole shared table.
FILE_INDEX = "bucketsync-file"
CHUNK = 100


class KeyedRowWriter:
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        key_fields: Sequence[str],
        file_id: str,
        threads: int = 16,
    ) -> None:
        self._table = table
        self._key_fields = tuple(key_fields)
        self._file_id = file_id
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="bucketsync-rows")
        self._writer = ConditionalWriter(client, transact=False, executor=self._pool)
        self._buffer: list[tuple[Mapping[str, Any], Any]] = []
        self._result = BatchResult()

    def put(self, item: Mapping[str, Any], *, tag: Any = None) -> None:
        self._buffer.append((item, tag))
        if len(self._buffer) >= CHUNK:
            self._send()

    def flush(self) -> BatchResult:
        self._send()
        result, self._result = self._result, BatchResult()
        return result

    def __enter__(self) -> KeyedRowWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)

    def _send(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        puts = [
            ConditionalPut(
                self._table,
                item,
                condition="attribute_not_exists(#k) OR #f = :me",
                names={"#k": self._key_fields[0], "#f": FILE_ATTRIBUTE},
                values={":me": self._file_id},
                keep_null=True,
            )
            for item, _ in batch
        ]
        self._result.requests += len(puts)
        for (item, tag), outcome in zip(batch, self._writer.write(puts), strict=True):
            key = {name: item.get(name) for name in self._key_fields}
            if outcome is True:
                self._result.written += 1
                continue
            if outcome is False:
                shown = ", ".join(f"{k}={v!r}" for k, v in key.items())
                error: BucketSyncError = SinkWriteError(
                    f"conflict: {shown} is already loaded from another file"
                )
            elif isinstance(outcome, BucketSyncError):
                error = outcome
            else:
                error = SinkWriteError(str(outcome))
            self._result.failures.append(ItemFailure("put", key, tag, error))
