"""Conditional DynamoDB writes, batched.

BatchWriteItem cannot carry conditions, so conditional puts go out as TransactWriteItems (up to
100 distinct items, all-or-nothing). When a transaction is cancelled, ``CancellationReasons``
says, per item, why: ``ConditionalCheckFailed`` items are settled (the table already holds a
newer or equal state), items marked ``None`` were only collateral and are sent again, and
anything else falls back to one PutItem per item so each gets its own answer. A single item
goes out as a plain PutItem: it costs one write unit where a transaction costs two.

With ``transact=False`` every item is its own conditional PutItem, sent concurrently on the
given executor: one write unit per item instead of two, at one request per item. Which is
cheaper depends on who charges what (``docs/performance.md``): AWS bills write units, the
emulator bills time per request, and moto 5.2.5 spends time proportional to the table's size
on every TransactWriteItems.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import error_code, translate
from bucketsync.errors import is_retryable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

log = logging.getLogger(__name__)

TRANSACTION_LIMIT = 100
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True, slots=True)
class ConditionalPut:
    """One PutItem guarded by a condition. ``item`` holds plain Python values."""

    table: str
    item: Mapping[str, Any]
    condition: str | None = None
    names: Mapping[str, str] | None = None
    values: Mapping[str, Any] | None = None
    keep_null: bool = False  # store an explicit None as NULL (data rows) rather than drop it
    # On a failed condition, return the item that failed it (free: no read units).
    return_old: bool = False

    def request(self) -> dict[str, Any]:
        item = serialize(self.item, keep_null=self.keep_null)
        request: dict[str, Any] = {"TableName": self.table, "Item": item}
        if self.condition:
            request["ConditionExpression"] = self.condition
        if self.names:
            request["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            request["ExpressionAttributeValues"] = serialize(self.values)
        if self.return_old:
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return request


@dataclass(frozen=True, slots=True)
class Refused:
    """The condition failed; ``item`` is the item that failed it (plain values), when the put
    asked for it (``return_old``) and there was one."""

    item: dict[str, Any] | None = None


# True: written. False: the condition failed (the table holds a newer or equal state);
# Refused instead of False when the put asked for the item that failed it.
PutResult = bool | Refused | Exception


def serialize(item: Mapping[str, Any], *, keep_null: bool = False) -> dict[str, Any]:
    """Plain values to DynamoDB's typed form. The catalog leaves unknown fields out
    (``None`` dropped); a data row keeps an explicit null as NULL (``keep_null``)."""
    return {
        name: _serializer.serialize(value)
        for name, value in item.items()
        if keep_null or value is not None
    }


def paged_items(
    client: DynamoDBClient, operation: Literal["query", "scan"], request: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    """Every item a paginated Query or Scan returns, its botocore errors translated."""
    try:
        for page in client.get_paginator(operation).paginate(**request):
            yield from page.get("Items", [])
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"{operation.title()} {request.get('TableName', '')}") from exc


def counted(client: DynamoDBClient, request: Mapping[str, Any]) -> tuple[int, int]:
    """A paginated ``Select=COUNT`` Query: (items its filter kept, items it read)."""
    kept = read = 0
    try:
        for page in client.get_paginator("query").paginate(**request, Select="COUNT"):
            kept += int(page.get("Count", 0))
            read += int(page.get("ScannedCount", 0))
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"Query {request.get('TableName', '')}") from exc
    return kept, read


def conditional_update(
    client: DynamoDBClient, action: str, request: Mapping[str, Any]
) -> dict[str, Any] | None:
    """One UpdateItem with a ConditionExpression: the attributes it returned (raw, typed),
    or None when the condition failed. Anything else is translated."""
    try:
        answer = client.update_item(**request)
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return None
        raise translate(exc, action) from exc
    except BotoCoreError as exc:
        raise translate(exc, action) from exc
    return dict(answer.get("Attributes", {}))


def get_item(
    client: DynamoDBClient, action: str, request: Mapping[str, Any]
) -> dict[str, Any] | None:
    """One GetItem: the item (raw, typed), or None when there is none. Errors translated."""
    try:
        answer = client.get_item(**request)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, action) from exc
    return dict(answer["Item"]) if "Item" in answer else None


def describe_table(client: DynamoDBClient, table: str) -> dict[str, Any]:
    """DescribeTable's ``Table``; errors translated (a missing table too: see key_schema)."""
    try:
        return dict(client.describe_table(TableName=table)["Table"])
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"DescribeTable {table}") from exc


def describe_indexes(client: DynamoDBClient, table: str) -> set[str]:
    """The names of the table's global secondary indexes."""
    description = describe_table(client, table)
    return {index["IndexName"] for index in description.get("GlobalSecondaryIndexes", [])}


def key_schema(client: DynamoDBClient, table: str) -> tuple[str, ...] | None:
    """The table's key attributes, partition key first then the sort key if it has one;
    ``None`` when there is no such table."""
    try:
        description = client.describe_table(TableName=table)["Table"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise translate(exc, f"DescribeTable {table}") from exc
    except BotoCoreError as exc:
        raise translate(exc, f"DescribeTable {table}") from exc
    order = {"HASH": 0, "RANGE": 1}
    keys = sorted(description.get("KeySchema", []), key=lambda k: order.get(k["KeyType"], 2))
    return tuple(k["AttributeName"] for k in keys)


class ConditionalWriter:
    """Writes batches of ``ConditionalPut`` with as few requests as correctness allows."""

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        transact: bool = True,
        executor: Executor | None = None,
        max_rounds: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._transact = transact
        self._executor = executor
        self._max_rounds = max_rounds
        self._sleep = sleep

    def write(self, puts: Sequence[ConditionalPut]) -> list[PutResult]:
        if not self._transact:
            if self._executor is None or len(puts) < 2:
                return [self._put_one(put) for put in puts]
            return list(self._executor.map(self._put_one, puts))
        results: list[PutResult | None] = [None] * len(puts)
        for start in range(0, len(puts), TRANSACTION_LIMIT):
            chunk = list(range(start, min(start + TRANSACTION_LIMIT, len(puts))))
            self._write_chunk(puts, chunk, results)
        return [r if r is not None else RuntimeError("not written") for r in results]

    def _write_chunk(
        self, puts: Sequence[ConditionalPut], pending: list[int], results: list[PutResult | None]
    ) -> None:
        rounds = 0
        while len(pending) > 1 and rounds < self._max_rounds:
            rounds += 1
            try:
                self._client.transact_write_items(
                    TransactItems=[{"Put": puts[i].request()} for i in pending]  # type: ignore[typeddict-item]
                )
            except ClientError as exc:
                translated = translate(exc, "TransactWriteItems")
                reasons = exc.response.get("CancellationReasons") or []
                if error_code(exc) == "TransactionCanceledException" and len(reasons) == len(
                    pending
                ):
                    pending, contended = _settle(puts, reasons, pending, results)
                elif is_retryable(translated):
                    contended = True
                elif error_code(exc) == "ValidationException":
                    break  # one bad item spoils the request: find it item by item
                else:
                    raise translated from exc
                if contended:
                    self._sleep(min(0.05 * 2**rounds, 1.0) * random.uniform(0.5, 1.0))
                continue
            except BotoCoreError as exc:
                raise translate(exc, "TransactWriteItems") from exc
            for i in pending:
                results[i] = True
            return
        for i in pending:
            results[i] = self._put_one(puts[i])

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _put_one(self, put: ConditionalPut) -> PutResult:
        try:
            self._client.put_item(**put.request())
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                old: Mapping[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
                return _refused(put, old)
            return translate(exc, "PutItem")
        except BotoCoreError as exc:
            return translate(exc, "PutItem")
        return True


def _refused(put: ConditionalPut, item: Mapping[str, Any] | None) -> PutResult:
    if not put.return_old:
        return False
    return Refused({k: _deserializer.deserialize(v) for k, v in item.items()} if item else None)


def _settle(
    puts: Sequence[ConditionalPut],
    reasons: Sequence[Mapping[str, Any]],
    pending: list[int],
    results: list[PutResult | None],
) -> tuple[list[int], bool]:
    """Apply a cancelled transaction's per-item reasons; return what to send again."""
    again: list[int] = []
    contended = False
    for i, reason in zip(pending, reasons, strict=True):
        code = reason.get("Code") or "None"
        if code == "ConditionalCheckFailed":
            results[i] = _refused(puts[i], reason.get("Item"))
        else:
            # "None": collateral of another item's failure. Anything else (throttling,
            # conflict, validation) is retried, then given its own PutItem and its own answer.
            contended = contended or code != "None"
            again.append(i)
    return again, contended
