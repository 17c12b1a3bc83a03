"""A reconcile run spread over many Lambda invocations: its state in DynamoDB.

In the catalog table, under ``pk = RECONCILE#<run>``:

    sk = SHARD#<shard id>    position (the shard's watermark), done
    sk = BUDGET              deleted (deletes made so far), limit (--max-delete)

Positions only move forward and a done shard stays done (a retried invocation may save an
older position late); the budget is taken by compare-and-set, so concurrent shards never make
more deletes than the limit between them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.dynamo import conditional_update, paged_items
from bucketsync.aws.errors import translate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Positions = dict[str, tuple[str, bool]]  # shard id → (position, done)
CONTENDED_TRIES = 20


def _run_pk(run: str) -> dict[str, str]:
    return {"S": f"RECONCILE#{run}"}


class TableCheckpoints:
    """One item per shard in ``table``: ``pk = RECONCILE#<run>``, ``sk = SHARD#<shard id>``."""

    def __init__(
        self, client: DynamoDBClient, table: str, run: str, *, shard: str | None = None
    ) -> None:
        """``shard``: only that shard's item (one invocation's share of the run)."""
        self._client = client
        self.table = table
        self.run = run
        self.shard = shard

    def load(self) -> Positions:
        request = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _run_pk(self.run)},
            "ConsistentRead": True,
        }
        positions: Positions = {}
        for item in paged_items(self._client, "query", request):
            shard = item["sk"]["S"].removeprefix("SHARD#")
            if self.shard is None or shard == self.shard:
                positions[shard] = (item["position"]["S"], item["done"]["BOOL"])
        return positions

    def save(self, positions: Positions) -> None:
        for shard, (position, done) in positions.items():
            # Never backwards, never undone: a retried invocation may save an older position
            # late (a refused condition is that, and nothing to report).
            conditional_update(
                self._client,
                "UpdateItem (checkpoint)",
                {
                    "TableName": self.table,
                    "Key": {"pk": _run_pk(self.run), "sk": {"S": f"SHARD#{shard}"}},
                    "UpdateExpression": "SET #p = :p, done = :d",
                    "ConditionExpression": "attribute_not_exists(#p) OR (done = :no AND #p <= :p)",
                    "ExpressionAttributeNames": {"#p": "position"},
                    "ExpressionAttributeValues": {
                        ":p": {"S": position},
                        ":d": {"BOOL": done},
                        ":no": {"BOOL": False},
                    },
                },
            )


class TableBudget:
    """``--max-delete`` shared by every invocation of a run (``repairs.Budget``)."""

    def __init__(self, client: DynamoDBClient, table: str, run: str, limit: int | None) -> None:
        self._client = client
        self.table = table
        self.run = run
        self.limit = limit

    def take(self, wanted: int) -> int:
        """Up to ``wanted`` deletes, as many as the limit still allows (0 when spent)."""
        if self.limit is None or wanted <= 0:
            return max(wanted, 0)
        key = {"pk": _run_pk(self.run), "sk": {"S": "BUDGET"}}
        for _ in range(CONTENDED_TRIES):
            used = self._used(key)
            granted = min(wanted, self.limit - used)
            if granted <= 0:
                return 0
            if self._add(key, used, granted):
                return granted
        return 0  # contended past reason: making no delete is the safe answer

    def _used(self, key: dict[str, Any]) -> int:
        try:
            item = self._client.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "GetItem (delete budget)") from exc
        value = item.get("Item", {}).get("deleted", {}).get("N")
        return int(value) if value is not None else 0

    def _add(self, key: dict[str, Any], used: int, granted: int) -> bool:
        answer = conditional_update(
            self._client,
            "UpdateItem (delete budget)",
            {
                "TableName": self.table,
                "Key": key,
                "UpdateExpression": "SET deleted = :new, #l = :limit",
                "ConditionExpression": "attribute_not_exists(deleted) OR deleted = :used",
                "ExpressionAttributeNames": {"#l": "limit"},
                "ExpressionAttributeValues": {
                    ":new": {"N": str(used + granted)},
                    ":used": {"N": str(used)},
                    ":limit": {"N": str(self.limit)},
                },
                "ReturnValues": "UPDATED_NEW",
            },
        )
        return answer is not None
