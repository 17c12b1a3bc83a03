"""Where a load's items go: the writer a target needs, or, for a dry run, none at all.

Rows of a file's own partition go by ``aws.batch_write.BatchWriter`` (unconditional: safe, as only
the lease holder writes a file's rows); rows under their own key by ``keyed.KeyedRowWriter``
(conditional, so a key another file loaded is a conflict). A dry run's rows go through the same
load into ``NoWriter``, which writes nothing and counts each as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from bucketsync.aws.batch_write import BatchResult, BatchWriter
from bucketsync.sinks.records.keyed import KeyedRowWriter
from bucketsync.sinks.records.target import Target

if TYPE_CHECKING:
    from types import TracebackType

    from mypy_boto3_dynamodb import DynamoDBClient


class RowWriter(Protocol):
    """The put side of ``BatchWriter``: ``flush`` settles every put made since the last."""

    def put(self, item: Mapping[str, Any], *, tag: Any = None) -> None: ...

    def flush(self) -> BatchResult: ...

    def __enter__(self) -> RowWriter: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> None: ...


def writer_for(
    client: DynamoDBClient, target: Target, bucket: str, key: str, *, in_flight: int
) -> RowWriter:
    """The writer of ``target``'s rows for the file ``bucket``/``key``."""
    if target.key_fields:
        return KeyedRowWriter(
            client, target.table, key_fields=target.key_fields, file_id=f"{bucket}/{key}"
        )
    return BatchWriter(client, target.table, key_attributes=("pk", "sk"), in_flight=in_flight)


class NoWriter:
    """Writes nothing: every put is written at once, as far as the load can tell."""

    def __init__(self) -> None:
        self._puts = 0

    def put(self, item: Mapping[str, Any], *, tag: Any = None) -> None:
        self._puts += 1

    def flush(self) -> BatchResult:
        result, self._puts = BatchResult(written=self._puts), 0
        return result

    def __enter__(self) -> NoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass
