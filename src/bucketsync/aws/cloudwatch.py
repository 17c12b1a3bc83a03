"""CloudWatch metrics and logs for ``status`` and ``logs``; botocore's errors translated."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import translate

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_logs import CloudWatchLogsClient


@dataclass(frozen=True)
class LogEvent:
    id: str
    timestamp: int  # milliseconds since the epoch
    stream: str
    message: str


def metric(
    cw: CloudWatchClient,
    namespace: str,
    name: str,
    dimensions: Mapping[str, str],
    *,
    statistic: str,
    minutes: int,
) -> float | None:
    """The metric over the last ``minutes``: the largest Maximum or the total Sum; None when
    CloudWatch has no datapoint (nothing happened, or the emulator, which keeps none)."""
    now = datetime.now(UTC)
    try:
        answer = cw.get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
            StartTime=now - timedelta(minutes=minutes),
            EndTime=now,
            Period=60,
            Statistics=[statistic],  # type: ignore[list-item]
        )
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"GetMetricStatistics {namespace}/{name}") from exc
    points: list[dict[str, Any]] = [dict(p) for p in answer.get("Datapoints", [])]
    values = [float(point.get(statistic, 0.0)) for point in points]
    if not values:
        return None
    return max(values) if statistic == "Maximum" else sum(values)


def log_events(
    logs: CloudWatchLogsClient,
    group: str,
    *,
    start_ms: int,
    pattern: str = "",
    limit: int | None = None,
) -> Iterator[LogEvent]:
    """The group's events from ``start_ms`` on, oldest first, matching ``pattern``."""
    request: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
    if pattern:
        request["filterPattern"] = pattern
    yielded = 0
    try:
        for page in logs.get_paginator("filter_log_events").paginate(**request):
            for event in page.get("events", []):
                yield LogEvent(
                    id=str(event.get("eventId", "")),
                    timestamp=int(event.get("timestamp", 0)),
                    stream=str(event.get("logStreamName", "")),
                    message=str(event.get("message", "")).rstrip("\n"),
                )
                yielded += 1
                if limit is not None and yielded >= limit:
                    return
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"FilterLogEvents {group}") from exc
