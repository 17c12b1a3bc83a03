"""What each DynamoDB write path costs on the emulator (moto 5.2.5), by table size.

The throughput benchmark's figures on the raw emulator rest on these: a conditional PutItem
costs the same whatever the table holds, a 10-item TransactWriteItems grows with the table
(moto deep-copies every table a transaction touches), and BatchWriteItem (unconditional, so
unusable for ordered writes) is the cheap batched path. The last part profiles one transaction
in-process to show where moto spends it.

    .venv/bin/python -m bench.emulator_costs
"""

from __future__ import annotations

import cProfile
import pstats
import time
from typing import Any

import boto3

from bucketsync.aws.clients import Clients
from bucketsync.local.emulator import Emulator, emulator_settings

SIZES = (0, 500, 1000, 2000)
KEY_SCHEMA = {
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
CONDITION = {
    "ConditionExpression": "attribute_not_exists(#r) OR #r < :r",
    "ExpressionAttributeNames": {"#r": "rev"},
    "ExpressionAttributeValues": {":r": {"S": "S9"}},
}


def item(n: int) -> dict[str, Any]:
    """About the size and shape of a catalog item."""
    return {
        "pk": {"S": "BUCKET#bench"},
        "sk": {"S": f"KEY#data/{n:07d}.json"},
        "rev": {"S": f"S{n:020d}"},
        "size": {"N": str(n)},
        "etag": {"S": "0123456789abcdef0123456789abcdef"},
        "content_type": {"S": "application/json"},
        "last_modified": {"S": "2026-11-23T12:00:00Z"},
        "event_type": {"S": "ObjectCreated:Put"},
        "deleted": {"BOOL": False},
    }


def per_request_ms(dynamodb: Any, size: int, fresh: int) -> dict[str, float]:
    """Time each write path against a table of ``size`` items; ``fresh`` numbers new items."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for r in range(5):
        base = fresh + r * 10
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "costs", "Item": item(base + j), **CONDITION}}
                for j in range(10)
            ]
        )
    timings["TransactWriteItems (10 items)"] = (time.perf_counter() - started) / 5 * 1e3
    started = time.perf_counter()
    for r in range(20):
        dynamodb.put_item(TableName="costs", Item=item(fresh + 100 + r), **CONDITION)
    timings["PutItem (conditional)"] = (time.perf_counter() - started) / 20 * 1e3
    started = time.perf_counter()
    for r in range(4):
        base = fresh + 200 + r * 25
        dynamodb.batch_write_item(
            RequestItems={"costs": [{"PutRequest": {"Item": item(base + j)}} for j in range(25)]}
        )
    timings["BatchWriteItem (25 items)"] = (time.perf_counter() - started) / 4 * 1e3
    return timings


def fill(dynamodb: Any, start: int, stop: int) -> None:
    for base in range(start, stop, 25):
        puts = [{"PutRequest": {"Item": item(n)}} for n in range(base, min(base + 25, stop))]
        dynamodb.batch_write_item(RequestItems={"costs": puts})


def profile_one_transaction(size: int) -> None:
    """moto in-process (no HTTP), to see inside ``transact_write_items``."""
    from moto import mock_aws  # noqa: PLC0415 - only this profile needs moto in-process

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(TableName="costs", **KEY_SCHEMA)  # type: ignore[arg-type]
        fill(dynamodb, 0, size)
        profile = cProfile.Profile()
        profile.enable()
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "costs", "Item": item(10**6 + j)}} for j in range(10)
            ]
        )
        profile.disable()
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    deepcopy = sum(
        row[3]
        for (filename, _, name), row in stats.stats.items()  # type: ignore[attr-defined]
        if name == "deepcopy" and filename.endswith("copy.py")
    )
    print(
        f"in-process profile, one 10-item transaction on {size} items: {total * 1e3:.0f} ms, "
        f"of which copy.deepcopy {deepcopy * 1e3:.0f} ms ({deepcopy / total:.0%})"
    )


def main() -> None:
    with Emulator() as emulator:
        dynamodb = Clients(emulator_settings(emulator)).dynamodb
        dynamodb.create_table(TableName="costs", **KEY_SCHEMA)  # type: ignore[arg-type]
        filled, fresh = 0, 10**7
        for size in SIZES:
            fill(dynamodb, filled, size)
            filled = max(filled, size)
            timings = per_request_ms(dynamodb, size, fresh)
            fresh += 1000
            cells = ", ".join(f"{name} {ms:6.1f} ms" for name, ms in timings.items())
            print(f"table of ~{size:>5} items: {cells}")
    profile_one_transaction(1000)


if __name__ == "__main__":
    main()
