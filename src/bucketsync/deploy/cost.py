"""What a deployed stack costs: USD per million object changes, and per month at rest.

``bucketsync deploy`` prints ``estimate(values, shape).lines()`` for the parameters chosen.
``Prices`` is the project's one price table (``bench/cost.py`` prices its measurements with it):
us-east-1 on-demand list prices with free tiers and volume tiers left out, so each line is the
marginal price at steady volume. Every line carries its assumption; those that are not AWS's
published figures are the named constants below, and the output says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from bucketsync.deploy.alarms import alarms
from bucketsync.deploy.parameters import defaults

PRICES_TAKEN = "2026-12-06"  # Lambda x86, SQS, DynamoDB writes, S3 first taken 2026-11-23


# AWS's pricing pages render their tables from templates (stored copies show few numbers), so
# each price is from the pages named, read on PRICES_TAKEN, each checked against a second.
@dataclass(frozen=True)
class Prices:
    # Lambda: AWS whitepaper "How AWS Pricing Works" (undated; $0.20 per 1M requests, x86
    # $0.00001667/GB-s rounded); cloudchipr.com "AWS Lambda Pricing Breakdown: Ultimate Guide
    # 2024": x86 $0.0000166667, arm64 $0.0000133334/GB-s (first 6 and 7.5 billion GB-s a month);
    # arm64 likewise in artillery 2.0.28's aws-lambda/prices.js and git.mcrn.ar (2026-05-11).
    lambda_gb_second: float = 0.0000166667  # x86: what bench/ measures on
    lambda_arm_gb_second: float = 0.0000133334  # arm64: the deployed function (template.py)
    lambda_per_million_requests: float = 0.20
    # SQS standard: cloudburn.io "Amazon SQS Pricing: Complete Guide" (March 2026),
    # factualminds.com "The 64 KB Rule" (2026-06-13): every 64 KB of a payload is one request.
    sqs_per_million_requests: float = 0.40
    # DynamoDB on-demand, Standard class: airbyte.com "Amazon DynamoDB Pricing" (2025-07-21),
    # after the halving jusdb.com (2025-08-19) dates 2024-11-01: older pages still say $1.25.
    dynamodb_per_million_wru: float = 0.625
    dynamodb_per_million_rru: float = 0.125
    # Storage: aws.amazon.com/dynamodb/pricing (older stored copy: "$0.25 per GB-month"), a
    # gist by allenheltondev (undated); PITR $0.20/GB-month of table size in the same gist and
    # finops.com.py/services/dynamodb/backups (undated). No source disagrees.
    dynamodb_storage_gb_month: float = 0.25
    dynamodb_pitr_gb_month: float = 0.20
    # S3 Standard: c3x.dev "S3 request fees explained" (undated); DELETE is free.
    s3_get_per_thousand: float = 0.0004  # HEAD is billed as a GET
    s3_put_list_per_thousand: float = 0.005
    # CloudWatch Logs, standard class: c3x.dev "cutting the $0.50/GB bill" (prices of June 2026),
    # hykell.com "AWS CloudWatch Logs pricing" (undated): ingestion $0.50/GB, storage $0.03/GB-mo.
    logs_ingestion_gb: float = 0.50
    logs_storage_gb_month: float = 0.03
    # Alarms: c3x.dev aws_cloudwatch_metric_alarm (undated) and gutehall/aws-arch-agent v1.3.0's
    # release notes: $0.10 a standard-resolution alarm-month. Custom metrics:
    # cal53.calculator.city CloudWatch custom metrics calculator: $0.30 a metric-month.
    alarm_month: float = 0.10
    metric_month: float = 0.30
    # Internet egress: egresscost.com/aws, leanopstech.com (2026-04-27): $0.09/GB, first 10 TB.
    transfer_out_gb: float = 0.09


PRICES = Prices()

MILLION = 1_000_000
SHAPES = ("catalog", "mirror")
WRITE_MODES = ("single", "transact")
SQS_BATCH_MAX = 10  # ReceiveMessage returns, and DeleteMessageBatch takes, at most 10 messages

# Lambda duration per change from bench/RESULTS.md section 3.4's compute line (USD per 1M
# changes at 256 MB, x86 $0.0000166667/GB-s): ms = usd / 1e6 / price / 0.25 GB * 1000. Timed on
# a full x86 core against a fake AWS answering each call in 10 ms; 256 MB gets a fraction of a
# vCPU and arm64 is taken as fast, so these are lower bounds. Keyed (WriteMode, Lean).
_RESULTS_3_4 = {
    ("transact", False): 0.0113,
    ("single", False): 0.0122,
    ("transact", True): 0.0050,
    ("single", True): 0.0062,
}
MS_PER_CHANGE = {k: usd / MILLION / 0.0000166667 / 0.25 * 1000 for k, usd in _RESULTS_3_4.items()}
# Not measured: the forwarder POSTs one message at a time and the service applies the change
# (downloading the object) before it answers, so its duration is the service's. Assumed.
FORWARD_MS_PER_CHANGE = 50.0
# Not measured: an S3 event is ~1 KB, plus headers, the HMAC signature and a TLS handshake
# (urllib opens a connection per POST). Answers come in, which AWS does not bill.
FORWARD_BYTES = 2_000
# Logged per invocation: the catalog handler's "batch done" line and Powertools' metrics
# document measured at 742 bytes (bench's handler against the fake, 2026-12-06), the
# forwarder's line ~180; plus Lambda's START, END and REPORT lines, ~270 (estimated).
LOG_BYTES = {"catalog": 1_000, "mirror": 450}
# AWS's pricing calculator takes archived logs as 15% of ingested (gzip): dev.classmethod.jp
# "Amazon S3とCloudWatch Logsのログ保存料金" (2021-09-18).
LOG_ARCHIVE_RATIO = 0.15
# "Every item in DynamoDB requires 100 bytes of storage overhead for indexing": AWS's
# "DynamoDB item sizes and formats". Decimal GB, as AWS's agent toolkit's calculate_costs.py.
ITEM_OVERHEAD = 100
# An idle queue: Lambda "uses long polling to poll a queue until it becomes active", at low
# traffic "scales back ... to five concurrent batches, and can optimize to as few as 2 ... not
# available when you enable the maximum concurrency setting" (AWS Lambda guide, "Configuring
# scaling behavior for SQS event source mappings"), which the template sets: 5. The wait is
# not published: 20 s (SQS's maximum) is assumed, as getlift/lift#132 measured (15 empty
# receives a minute, 2021-11-09); cityofaustin/atd-data-tech#9383 saw ~10 (2022-06-06).
IDLE_POLLERS = 5
IDLE_POLL_SECONDS = 20
MONTH_SECONDS = 730 * 3600  # AWS's pricing month
# What a steady stream publishes: Changes, FailedMessages, catalog_applied, catalog_stale.
CATALOG_METRICS = 4


@dataclass(frozen=True)
class Estimate:
    """USD by line, per million changes and per month at rest; ``why`` is each line's basis."""

    shape: str
    per_million: Mapping[str, float]
    at_rest_month: Mapping[str, float]
    why: Mapping[str, str]
    notes: tuple[str, ...] = field(default=())

    @property
    def total_per_million(self) -> float:
        return sum(self.per_million.values())

    @property
    def total_at_rest(self) -> float:
        return sum(self.at_rest_month.values())

    def lines(self) -> list[str]:
        """Terminal lines: one per item with its assumption, the totals, then the notes."""
        width = max(len(name) for name in [*self.per_million, *self.at_rest_month])

        def rows(title: str, table: Mapping[str, float], total: float) -> list[str]:
            out = [title]
            out += [f"  {n:<{width}}  {_usd(u):>9}  ({self.why[n]})" for n, u in table.items()]
            return [*out, f"  {'total':<{width}}  {_usd(total):>9}"]

        changes = f"Estimated AWS cost per million object changes ({self.shape}):"
        return [
            *rows(changes, self.per_million, self.total_per_million),
            *rows("Estimated AWS cost per month at rest:", self.at_rest_month, self.total_at_rest),
            *(f"  note: {note}" for note in self.notes),
            f"us-east-1 on-demand list prices taken {PRICES_TAKEN}, no free tier "
            "(bucketsync/deploy/cost.py)",
        ]


def _usd(usd: float) -> str:
    return f"${usd:,.2f}" if usd >= 10 else f"${usd:.4f}"


Row = tuple[str, float, str]  # line, USD, what it assumes


def estimate(
    values: Mapping[str, str],
    shape: str,
    *,
    objects: int | None = None,
    item_bytes: int = 450,
    prices: Prices = PRICES,
) -> Estimate:
    """The cost of a stack of ``shape`` with parameter ``values`` (defaults for the rest).

    ``objects``: the bucket's object count, for the catalog's storage at rest; ``item_bytes``:
    a catalog item's size as DynamoDB counts it.
    """
    if shape not in SHAPES:
        raise ValueError(f"shape {shape!r} is not one of {', '.join(SHAPES)}")
    if (objects is not None and objects < 0) or item_bytes < 0:
        raise ValueError("objects and item_bytes cannot be negative")
    v = {**defaults(shape), **values}
    per = _per_million(v, shape, item_bytes, prices)
    rest, notes = _at_rest(v, shape, objects, item_bytes, prices)
    return Estimate(
        shape,
        {name: usd for name, usd, _ in per},
        {name: usd for name, usd, _ in rest},
        {name: basis for name, _, basis in [*per, *rest]},
        tuple(notes),
    )


def _per_million(v: Mapping[str, str], shape: str, item_bytes: int, prices: Prices) -> list[Row]:
    batch, memory, days = (int(v[n]) for n in ("BatchSize", "FunctionMemory", "LogRetentionDays"))
    if batch < 1 or memory < 1 or days < 0:
        raise ValueError("BatchSize and FunctionMemory must be positive, LogRetentionDays not < 0")
    mode, lean = str(v.get("WriteMode", "")), str(v.get("Lean", "")).lower() == "true"
    if shape == "mirror":
        ms, basis = FORWARD_MS_PER_CHANGE, "assumed: the service's answer, not measured"
    elif (mode, lean) in MS_PER_CHANGE:
        ms, basis = MS_PER_CHANGE[mode, lean], "bench/RESULTS.md 3.4, a lower bound"
    else:
        raise ValueError(f"WriteMode {mode!r} is not one of {', '.join(WRITE_MODES)}")
    calls, per_call, log_bytes = MILLION / batch, min(batch, SQS_BATCH_MAX), LOG_BYTES[shape]
    log_gb = calls * log_bytes / 1e9
    usd = MILLION * ms / 1000 * memory / 1024 * prices.lambda_arm_gb_second
    sqs = (MILLION + 2 * MILLION / per_call) * prices.sqs_per_million_requests / MILLION
    why = f"1M / BatchSize {batch} = {calls:,.0f} invocations if batches are full; more if not"
    rows: list[Row] = [
        ("Lambda requests", calls * prices.lambda_per_million_requests / MILLION, why)
    ]
    rows.append(("Lambda compute", usd, f"{ms:.2f} ms per change at {memory} MB, arm64; {basis}"))
    why = f"S3's SendMessage per change; a receive and a batch delete per {per_call} messages"
    rows.append(("SQS requests", sqs, why))
    if shape == "catalog":
        units = max(1, math.ceil(item_bytes / 1024)) * (2 if mode == "transact" else 1)
        why = f"{units} write unit{'s' * (units > 1)} per change: WriteMode {mode}"
        rows.append(("DynamoDB writes", units * prices.dynamodb_per_million_wru, why))
        if not lean:
            why = "a HeadObject per change at most (Lean false): deletes skip it"
            rows.append(("S3 HEAD", MILLION * prices.s3_get_per_thousand / 1000, why))
    else:
        usd = MILLION * FORWARD_BYTES / 1e9 * prices.transfer_out_gb
        why = f"a POST per change to ApiEndpoint, ~{FORWARD_BYTES:,} bytes out (assumed)"
        rows.append(("Outbound HTTPS", usd, why))
    ingest = f"~{log_bytes:,} bytes an invocation"
    rows.append(("CloudWatch Logs ingestion", log_gb * prices.logs_ingestion_gb, ingest))
    storage = log_gb * LOG_ARCHIVE_RATIO * days / 30 * prices.logs_storage_gb_month
    why = f"kept LogRetentionDays {days}, archived at ~15% of ingested"
    return [*rows, ("CloudWatch Logs storage", storage, why)]


def _at_rest(
    v: Mapping[str, str], shape: str, objects: int | None, item_bytes: int, prices: Prices
) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    if shape == "catalog":
        gb = (MILLION if objects is None else objects) * (item_bytes + ITEM_OVERHEAD) / 1e9
        storage, pitr = gb * prices.dynamodb_storage_gb_month, gb * prices.dynamodb_pitr_gb_month
        if objects is None:
            notes.append(
                f"DynamoDB storage and PITR grow with the bucket: {_usd(storage)} + "
                f"{_usd(pitr)} a month per million objects ({item_bytes} + 100 bytes an item)"
            )
        else:
            size = f"{objects:,} items of {item_bytes} + 100 bytes = {gb:.3f} GB"
            rows.append(("DynamoDB storage", storage, size))
            rows.append(("DynamoDB PITR", pitr, "continuous backups, billed on the table's size"))
        notes.append(
            f"CloudWatch metrics, only in months with changes: ~{CATALOG_METRICS} custom metrics "
            f"(Changes, FailedMessages, catalog_<outcome>), "
            f"{_usd(CATALOG_METRICS * prices.metric_month)} a month"
        )
        if v.get("Routes"):
            notes.append("Routes: rows loaded into records tables are not in this estimate")
    else:
        notes.append("The sync service's own costs (its host, its downloads) are not included")
    if not v.get("AlarmTopicArn"):
        notes.append("AlarmTopicArn is empty: the alarms are made (and billed) but notify no one")
    made = alarms()
    why = f"{len(made)} standard alarms: {', '.join(made)}"
    rows.append(("CloudWatch alarms", len(made) * prices.alarm_month, why))
    polls = IDLE_POLLERS * MONTH_SECONDS / IDLE_POLL_SECONDS
    why = (
        f"{polls:,.0f} empty receives: {IDLE_POLLERS} pollers, one {IDLE_POLL_SECONDS} s long "
        "poll each at a time; assumed, AWS publishes no figure"
    )
    rows.append(("SQS idle polling", polls * prices.sqs_per_million_requests / MILLION, why))
    return rows, notes


def compare(values: Mapping[str, str], shape: str = "catalog") -> dict[str, float]:
    """Per-million totals of each WriteMode, cheapest first; empty for the mirror (no table)."""
    if shape != "catalog":
        return {}
    totals = {m: estimate({**values, "WriteMode": m}, shape).total_per_million for m in WRITE_MODES}
    return dict(sorted(totals.items(), key=lambda item: item[1]))


def cheaper(values: Mapping[str, str], shape: str = "catalog") -> str:
    """The sentence for deploy: which write mode is cheaper, and by how much ("" for mirror)."""
    totals = list(compare(values, shape).items())
    if not totals:
        return ""
    (best, low), (other, high) = totals
    return (
        f"{best} is the cheaper of the two write modes by {_usd(high - low)} per million "
        f"changes ({_usd(low)} against {other}'s {_usd(high)})"
    )
