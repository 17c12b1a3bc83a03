"""The catalog sink: one DynamoDB item per object, written only by newer stamps.

Every write is a PutItem guarded by ``attribute_not_exists(rev) OR rev < :rev``: no read
before the write, so two workers racing on one key cannot both win with an older state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bucketsync.aws.dynamo import ConditionalPut, ConditionalWriter
from bucketsync.engine.state import Outcome, Update
from bucketsync.errors import BucketSyncError
from bucketsync.sinks.catalog.item import current_item, journal_item

NEWER_ONLY = "attribute_not_exists(#rev) OR #rev < :rev"
ONCE = "attribute_not_exists(pk)"
DAY = 86_400.0


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
    ) -> None:
        self._writer = writer
        self.table = table
        self._tombstone_ttl = tombstone_ttl_days * DAY
        self._journal = journal
        self._journal_ttl = journal_ttl_days * DAY
        self._clock = clock

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
            puts.append(
                ConditionalPut(
                    self.table, item, NEWER_ONLY, {"#rev": "rev"}, {":rev": update.stamp}
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
            elif owner >= 0 and result is False:
                results[index] = Outcome.STALE
        return results
