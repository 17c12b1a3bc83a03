"""AWS cost per million object changes, from counted requests and one table of list prices.

    counter = WriteUnitCounter(); counter.attach(clients.dynamodb)
    ... run a handler ...
    cost = estimate(changes=n, requests=request_counter.snapshot(),
                    write_units=counter.units, lambda_seconds=handler_seconds)
    print(format_table({"seed-style": seed_cost, "bucketsync": cost}))

Free tiers and volume tiers are left out on purpose: this is the marginal price at steady volume.
The prices, with their sources, are ``bucketsync.deploy.cost.Prices``: the project's one table.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bucketsync.deploy.cost import PRICES, PRICES_TAKEN, Prices

__all__ = [
    "PRICES",
    "PRICES_TAKEN",
    "CostEstimate",
    "Prices",
    "WriteUnitCounter",
    "estimate",
    "format_table",
    "item_size",
    "write_units",
]

KB = 1024
_FREE_S3 = ("Delete", "Abort")  # DELETE and CANCEL requests cost nothing
_TIER1_S3 = ("Put", "Copy", "Post", "List", "Create", "UploadPart", "Complete", "Restore")


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return _number_size(v)
    if kind == "B":
        return len(v) if isinstance(v, bytes | bytearray) else len(str(v).encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: e}) for e in v)
    if kind == "L":
        return 3 + sum(1 + _value_size(e) for e in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(e) for k, e in v.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def _number_size(text: str) -> int:
    # "1 byte per two significant digits, plus 1"; leading and trailing zeroes do not count
    mantissa = text.lower().lstrip("+-").split("e")[0].replace(".", "")
    return math.ceil(len(mantissa.strip("0")) / 2) + 1


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes DynamoDB bills for an item in the typed format, per "Item sizes and formats"."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _kb(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    # A delete's (or condition check's) item is not in the request: it is billed by the stored
    # item's size, which we cannot see, so it counts as one 1 KB unit.
    return max(1, math.ceil(item_size(item) / KB)) if item else 1


def _update_item(params: Mapping[str, Any]) -> dict[str, Any]:
    # An update is billed by the larger of the item before and after; the request only shows the
    # key and the new values, so this is a lower bound.
    return {**params.get("Key", {}), **params.get("ExpressionAttributeValues", {})}


def write_units(operation: str, params: Mapping[str, Any]) -> int:
    """Write request units ``operation`` with ``params`` consumes on AWS (0 for reads)."""
    if operation == "PutItem":
        return _kb(params.get("Item"))
    if operation == "UpdateItem":
        return _kb(_update_item(params))
    if operation == "DeleteItem":
        return 1
    if operation == "BatchWriteItem":
        requests = [r for rs in params.get("RequestItems", {}).values() for r in rs]
        return sum(_kb(r["PutRequest"]["Item"]) if "PutRequest" in r else 1 for r in requests)
    if operation == "TransactWriteItems":
        # two underlying writes per item (prepare and commit)
        total = 0
        for entry in params.get("TransactItems", []):
            if "Put" in entry:
                total += 2 * _kb(entry["Put"]["Item"])
            elif "Update" in entry:
                total += 2 * _kb(_update_item(entry["Update"]))
            else:  # Delete, ConditionCheck
                total += 2
        return total
    return 0


class WriteUnitCounter:
    """Sums the write request units of every DynamoDB call made by the clients it is attached to.

    Counted once per API call, before it is sent: SDK retries of a throttled call (not billed)
    are not counted again, while a caller's own re-sends are: a transaction sent again after a
    cancellation counts in full each time, and BatchWriteItem's UnprocessedItems twice.
    """

    def __init__(self) -> None:
        self._units = 0
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb", self._on_call)

    def _on_call(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        units = write_units(model.name, params)
        with self._lock:
            self._units += units

    @property
    def units(self) -> int:
        with self._lock:
            return self._units

    def reset(self) -> None:
        with self._lock:
            self._units = 0


@dataclass(frozen=True)
class CostEstimate:
    """USD per million object changes, by line; ``lambda_compute`` is None when not measured."""

    lambda_compute: float | None
    lambda_requests: float
    sqs: float
    dynamodb: float
    s3: float

    @property
    def total(self) -> float:
        return (
            self.lambda_requests + self.sqs + self.dynamodb + self.s3 + (self.lambda_compute or 0)
        )

    @property
    def lambda_compute_arm64(self) -> float | None:
        """The same duration at arm64's price (the deployed function's), as if equally fast."""
        if self.lambda_compute is None:
            return None
        return self.lambda_compute * PRICES.lambda_arm_gb_second / PRICES.lambda_gb_second

    @property
    def total_arm64(self) -> float:
        return self.total - (self.lambda_compute or 0) + (self.lambda_compute_arm64 or 0)


def _s3_price(operation: str, prices: Prices) -> float:
    if operation.startswith(_FREE_S3):
        return 0.0
    if operation.startswith(_TIER1_S3):
        return prices.s3_put_list_per_thousand / 1000
    return prices.s3_get_per_thousand / 1000  # GET, HEAD, SELECT "and all other requests"


def estimate(
    *,
    changes: int,
    requests: Mapping[str, int],
    write_units: float,
    lambda_seconds: float | None,
    memory_mb: int = 256,
    invocations: int | None = None,
    batch_size: int = 10,
    read_units: float = 0.0,
    prices: Prices = PRICES,
) -> CostEstimate:
    """Cost per 1M changes of a run that handled ``changes`` object changes.

    ``requests`` is ``RequestCounter.snapshot()`` (``{"s3.HeadObject": n, ...}``);
    ``lambda_seconds`` the handler's total duration (billed at ``memory_mb``; time measured on a
    full local core understates CPU-bound work at 256 MB, which gets about 1/7 of a vCPU);
    ``invocations`` defaults to one per SQS batch of ``batch_size``.

    SQS: S3 sends one message per change (an event is ~1 KB, one 64 KB chunk). The consumer's
    ReceiveMessage and DeleteMessage(Batch) calls are taken from ``requests`` when the worker
    made them itself; otherwise (Lambda's poller, not counted) one receive and one batch delete
    per batch are assumed. Empty long polls on an idle queue are extra, and not in this estimate.
    """
    batches = math.ceil(changes / batch_size)
    calls = batches if invocations is None else invocations
    sqs_requests = changes + (_consumer_sqs(requests) or 2 * batches)
    s3_usd = sum(n * _s3_price(op[3:], prices) for op, n in requests.items() if op[:3] == "s3.")
    gb_s = None if lambda_seconds is None else lambda_seconds * memory_mb / 1024
    # usage per change x $ per million = $ per million changes; $ of the run x scale likewise
    scale = 1_000_000 / changes
    return CostEstimate(
        lambda_compute=None if gb_s is None else gb_s * prices.lambda_gb_second * scale,
        lambda_requests=calls / changes * prices.lambda_per_million_requests,
        sqs=sqs_requests / changes * prices.sqs_per_million_requests,
        dynamodb=(
            write_units * prices.dynamodb_per_million_wru
            + read_units * prices.dynamodb_per_million_rru
        )
        / changes,
        s3=s3_usd * scale,
    )


def _consumer_sqs(requests: Mapping[str, int]) -> int:
    # S3's sends are modelled (one per change) so a bench that plays S3 is not counted twice
    return sum(n for op, n in requests.items() if op[:4] == "sqs." and "SendMessage" not in op)


_ROWS = (
    ("Lambda compute", "lambda_compute"),
    ("Lambda requests", "lambda_requests"),
    ("SQS requests", "sqs"),
    ("DynamoDB units", "dynamodb"),
    ("S3 requests", "s3"),
    ("total", "total"),
    ("compute on arm64", "lambda_compute_arm64"),
    ("total on arm64", "total_arm64"),
)


def format_table(estimates: Mapping[str, CostEstimate]) -> str:
    """Side-by-side USD per 1M changes, one column per handler."""
    width = max(10, *(len(name) for name in estimates))
    lines = [f"{'USD per 1M changes':18}" + "".join(f"  {n:>{width}}" for n in estimates)]
    for label, attr in _ROWS:
        cells = [getattr(e, attr) for e in estimates.values()]
        lines.append(
            f"{label:18}"
            + "".join(f"  {'n/a' if c is None else f'${c:.4f}':>{width}}" for c in cells)
        )
    lines.append(
        f"us-east-1 list prices taken {PRICES_TAKEN} (bucketsync/deploy/cost.py), no free tier;"
        " total with x86 Lambda, the arm64 rows at arm64's price for the same duration"
    )
    return "\n".join(lines)
