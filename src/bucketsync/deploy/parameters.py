"""The stack's parameters: their defaults, and the checks across resources cfn-lint lacks.

Defaults are chosen by what AWS bills (``bench/RESULTS.md`` section 3.4): ``single`` writes, one
write unit per item, not ``transact``'s two. A stack is checked before it is created or
updated (``check``), and ``make lint`` checks the templates in ``deploy/`` with their defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MIN_RECEIVE_COUNT = 5  # a transient fault of minutes never reaches the DLQ
SQS_MAX_MESSAGE = 262_144  # S3's events can reach 64 KB; the queue takes what SQS allows
BUCKET_PATTERN = "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


@dataclass(frozen=True)
class Parameter:
    name: str
    default: str | None  # None: required, no default
    description: str
    kind: str = "String"  # or "Number"
    allowed: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    pattern: str = ""

    def definition(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Type": self.kind, "Description": self.description}
        if self.default is not None:
            out["Default"] = self.default
        if self.pattern:
            out["AllowedPattern"] = self.pattern
        if self.allowed:
            out["AllowedValues"] = list(self.allowed)
        if self.minimum is not None:
            out["MinValue"] = self.minimum
        if self.maximum is not None:
            out["MaxValue"] = self.maximum
        return out


COMMON = (
    Parameter(
        "BucketName",
        None,
        "The bucket to keep in sync (an existing one, or the one made).",
        pattern=BUCKET_PATTERN,
    ),
    Parameter(
        "CreateBucket",
        "false",
        "true: the stack makes the bucket (SSE, public access blocked, TLS only).",
        allowed=("true", "false"),
    ),
    Parameter(
        "BucketVersioning",
        "Suspended",
        "Versioning of a bucket the stack makes.",
        allowed=("Enabled", "Suspended"),
    ),
    Parameter(
        "CodeBucket",
        None,
        "The S3 bucket holding the function's zip (bucketsync deploy).",
        pattern=BUCKET_PATTERN,
    ),
    Parameter("CodeKey", None, "The zip's key in CodeBucket.", pattern=".+"),
    Parameter("FunctionMemory", "256", "MB of memory.", "Number", minimum=128, maximum=10240),
    Parameter(
        "FunctionTimeout", "60", "Seconds a batch may take.", "Number", minimum=3, maximum=900
    ),
    Parameter(
        "ReservedConcurrency",
        "-1",
        "Reserved concurrent executions (-1: none reserved).",
        "Number",
        minimum=-1,
    ),
    Parameter("BatchSize", "10", "Messages a batch.", "Number", minimum=1, maximum=10000),
    Parameter(
        "BatchingWindowSeconds",
        "0",
        "Seconds the mapping waits to fill a batch (needed above 10 messages).",
        "Number",
        minimum=0,
        maximum=300,
    ),
    Parameter(
        "MaximumConcurrency",
        "10",
        "Concurrent invocations the queue may drive (2-1000).",
        "Number",
        minimum=2,
        maximum=1000,
    ),
    Parameter(
        "QueueVisibilityTimeout",
        "360",
        "Seconds; at least six times FunctionTimeout (what AWS advises for SQS sources).",
        "Number",
        minimum=0,
        maximum=43200,
    ),
    Parameter(
        "MaxReceiveCount",
        "5",
        "Receives before a message goes to the DLQ (5 or more).",
        "Number",
        minimum=MIN_RECEIVE_COUNT,
        maximum=1000,
    ),
    Parameter("LogRetentionDays", "30", "Days the function's logs are kept.", "Number"),
    Parameter(
        "OldestMessageAlarmSeconds",
        "900",
        "Alarm when the oldest message waits longer than this.",
        "Number",
        minimum=60,
    ),
    Parameter("AlarmTopicArn", "", "SNS topic the alarms notify (empty: none)."),
)
CATALOG = (
    Parameter("TableName", "bucketsync-catalog", "The catalog table the stack makes."),
    Parameter(
        "WriteMode",
        "single",
        "single: 1 write unit per item (cheapest); transact: 2, fewer requests.",
        allowed=("single", "transact"),
    ),
    Parameter(
        "Ordering",
        "auto",
        "auto, sequencer or observed.",
        allowed=("auto", "sequencer", "observed"),
    ),
    Parameter("Lean", "false", "Trust events, skip HeadObject.", allowed=("true", "false")),
    Parameter("TombstoneTtlDays", "30", "Days a delete's tombstone lives.", "Number", minimum=1),
    Parameter("Routes", "", "Routing rules (JSON) for data files' rows; their tables are made."),
)
FORWARDER = (
    Parameter("ApiEndpoint", "", "The sync service's base URL (the forwarder POSTs to it)."),
    Parameter(
        "SecretParameterName",
        "",
        "SSM SecureString holding the HMAC secret the forwarder signs with (never a plain value).",
    ),
)


def defaults(shape: str) -> dict[str, str]:
    """The parameters' defaults (the required ones left out)."""
    chosen = COMMON + (CATALOG if shape == "catalog" else FORWARDER)
    return {p.name: p.default for p in chosen if p.default is not None}


def check(values: Mapping[str, str]) -> list[str]:
    """What cfn-lint cannot see: rules that tie one parameter or resource to another."""
    problems = []

    def number(name: str) -> int:
        return int(values[name])

    if number("QueueVisibilityTimeout") < 6 * number("FunctionTimeout"):
        problems.append(
            f"QueueVisibilityTimeout {values['QueueVisibilityTimeout']} is under six times "
            f"FunctionTimeout {values['FunctionTimeout']}: a batch still running would be "
            "delivered again"
        )
    if number("BatchSize") > 10 and number("BatchingWindowSeconds") < 1:
        problems.append(
            f"BatchSize {values['BatchSize']} is over 10, which SQS allows only with a "
            "batching window of at least 1 second (BatchingWindowSeconds)"
        )
    if not 2 <= number("MaximumConcurrency") <= 1000:
        problems.append(f"MaximumConcurrency {values['MaximumConcurrency']} is not in 2-1000")
    if number("MaxReceiveCount") < MIN_RECEIVE_COUNT:
        problems.append(
            f"MaxReceiveCount {values['MaxReceiveCount']} is under {MIN_RECEIVE_COUNT}: a "
            "transient fault would dead-letter messages"
        )
    reserved = number("ReservedConcurrency")
    if reserved != -1 and reserved < number("MaximumConcurrency"):
        problems.append(
            f"ReservedConcurrency {reserved} is under MaximumConcurrency "
            f"{values['MaximumConcurrency']}: the mapping would be throttled"
        )
    if not values.get("BucketName"):
        problems.append("BucketName is required")
    if "ApiEndpoint" in values:  # the mirror's forwarder
        if not values["ApiEndpoint"].startswith("https://"):
            problems.append(
                f"ApiEndpoint {values['ApiEndpoint']!r} must be an https:// URL: the forwarder "
                "sends signed object changes to it over the internet"
            )
        if not values.get("SecretParameterName"):
            problems.append(
                "SecretParameterName is required: the SSM SecureString holding the HMAC "
                "secret the forwarder signs with (an empty secret is no secret)"
            )
    return problems
