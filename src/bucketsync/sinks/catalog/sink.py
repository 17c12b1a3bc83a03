"""The catalog sink: one DynamoDB item per object, written only where the ordering rule allows.

Every write is a PutItem guarded by ``engine.ordering.condition``: no read before the write,
so two workers racing on one key cannot both win with an older state. A sequencer update
without an observation asks for the refusing item (``ALL_OLD``, no read units) to tell a stale
update from one to confirm (``Outcome.CONFIRM``). ``listing`` reads the items back in key order
for reconcile: one Query of the bucket's partition, a page at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bucketsync.aws.dynamo import ConditionalPut, ConditionalWriter, Refused, paged_items
from bucketsync.engine.ordering import REV, WROTE, Verdict, condition, decide
from bucketsync.engine.state import Held
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import BucketSyncError
from bucketsync.sinks.catalog import schema
from bucketsync.sinks.catalog.item import current_item, journal_item
from bucketsync.sinks.catalog.reader import deserialize
from bucketsync.sinks.sortkey import LAST_CHARACTER, in_key_order, lower_bound

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ONCE = "attribute_not_exists(pk)"
DAY = 86_400.0
_LISTED = ("object_key", REV, WROTE, "deleted", "size", "etag")
_PAST_KEYS = schema.KEY_PREFIX[:-1] + chr(ord(schema.KEY_PREFIX[-1]) + 1)  # "KEY$"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CatalogSink:
    name = "catalog"

    def __init__(
        self,
        writer: ConditionalWriter,
        table: str,
        *,
        tombstone_ttl_days: float = 30.0,
        journal: bool = False,
        journal_ttl_days: float = 90.0,
        clock: Callable[[], datetime] = _utcnow,
        reader: DynamoDBClient | None = None,
    ) -> None:
        """``reader`` is the client ``listing`` queries with (reconcile needs one)."""
        self._writer = writer
        self.table = table
        self._tombstone_ttl = tombstone_ttl_days * DAY
        self._journal = journal
        self._journal_ttl = journal_ttl_days * DAY
        self._clock = clock
        self._reader = reader

    def close(self) -> None:
        self._writer.close()

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]:
        now = self._clock()
        puts: list[ConditionalPut] = []
        owners: list[int] = []  # which update each put belongs to
        results: list[Outcome | BaseException] = [Outcome.APPLIED] * len(updates)
        journaled: set[str] = set()  # a transaction may not touch one item twice
        for index, update in enumerate(updates):
            try:
                item = current_item(update, now=now, tombstone_ttl_seconds=self._tombstone_ttl)
                journal = [
                    journal_item(update, change, now=now, ttl_seconds=self._journal_ttl)
                    for change in (update.changes if self._journal else ())
                ]
            except BucketSyncError as exc:
                results[index] = exc
                continue
            rule = condition(update)
            puts.append(
                ConditionalPut(
                    self.table,
                    item,
                    rule.expression,
                    rule.names,
                    rule.values,
                    return_old=update.seen is None and not update.repair,
                )
            )
            owners.append(index)
            for entry in journal:
                if entry["sk"] in journaled:
                    continue
                journaled.add(entry["sk"])
                puts.append(ConditionalPut(self.table, entry, ONCE))
                owners.append(-1 - index)  # journal entries: idempotent, outcome not reported
        written = self._writer.write(puts)
        for owner, result in zip(owners, written, strict=True):
            index = owner if owner >= 0 else -1 - owner
            if isinstance(result, Exception):
                results[index] = result
            elif owner >= 0 and result is not True:
                results[index] = _refused(updates[index], result)
        return results

    def in_scope(self, bucket: str, key: str) -> bool:
        return True

    def listing(
        self, bucket: str, prefix: str = "", start_after: str = "", upto: str | None = None
    ) -> Iterator[Held]:
        if self._reader is None:
            raise BucketSyncError("this catalog sink was built without a client to list with")
        # A bounded sort key may sort a little before its key's own place: read from the
        # bound of start_after, up to past the bound of upto, and filter on the full keys.
        lower = lower_bound(start_after) if start_after >= prefix else prefix
        values = {
            ":pk": {"S": schema.partition_key(bucket)},
            ":from": {"S": schema.key_prefix(lower)},
        }
        # Never past the KEY# items: the journal's sort after them in the same partition.
        upper = schema.key_prefix(lower_bound(upto) + LAST_CHARACTER) if upto else _PAST_KEYS
        values[":to"] = {"S": upper}
        request = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :from AND :to",
            "ExpressionAttributeValues": values,
            "ProjectionExpression": ", ".join(f"#a{n}" for n in range(len(_LISTED))),
            "ExpressionAttributeNames": {f"#a{n}": name for n, name in enumerate(_LISTED)},
            "ConsistentRead": True,
        }
        items = (deserialize(raw) for raw in paged_items(self._reader, "query", request))
        for item in in_key_order(items, key=lambda item: str(item["object_key"])):
            key = str(item["object_key"])
            if (upto is not None and key > upto) or (key > prefix and not key.startswith(prefix)):
                return  # past the range, or past the prefix: the rest is not ours
            if key > start_after and key.startswith(prefix):
                yield _held(item)


def _held(item: dict[str, Any]) -> Held:
    return Held(
        key=str(item["object_key"]),
        stamp=str(item.get(REV, "")),
        present=not item.get("deleted"),
        size=item.get("size"),
        etag=item.get("etag"),
        wrote=str(item.get(WROTE, "")),
    )


def _refused(update: Update, result: object) -> Outcome:
    """A refused write: stale, or (an event without an observation) to confirm."""
    if isinstance(result, Refused) and result.item is not None:
        held = _held({"object_key": update.key, **result.item})
        if decide(held, update) is Verdict.CONFIRM:
            return Outcome.CONFIRM
    return Outcome.STALE
