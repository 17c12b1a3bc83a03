"""``bucketsync logs``: the function's CloudWatch logs, and ``--follow`` for what comes next.

Following polls FilterLogEvents from the newest timestamp seen; events sharing that millisecond
are told apart by their id, so none is printed twice and none is skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bucketsync.aws.cloudwatch import LogEvent, log_events

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

POLL = 2.0


def tail(
    logs: CloudWatchLogsClient,
    group: str,
    *,
    start_ms: int,
    pattern: str = "",
    follow: bool = False,
    stop: Callable[[], bool] = lambda: False,
    poll: float = POLL,
) -> Iterator[LogEvent]:
    """Events from ``start_ms`` on; with ``follow``, keep polling until ``stop()``."""
    newest = start_ms
    at_newest: set[str] = set()
    while True:
        for event in log_events(logs, group, start_ms=newest, pattern=pattern):
            if event.timestamp == newest and event.id in at_newest:
                continue
            if event.timestamp > newest:
                newest, at_newest = event.timestamp, set()
            at_newest.add(event.id)
            yield event
        if not follow or stop():
            return
        time.sleep(poll)
        if stop():
            return


def line(event: LogEvent) -> str:
    """One readable line: time, and for Powertools' JSON its level, message and location."""
    when = datetime.fromtimestamp(event.timestamp / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    text = event.message.strip()
    if text.startswith("{"):
        try:
            record = json.loads(text)
        except ValueError:
            return f"{when}  {text}"
        if isinstance(record, dict) and "message" in record:
            level = str(record.get("level", ""))
            extra = {
                k: v
                for k, v in record.items()
                if k not in ("level", "message", "timestamp", "location", "service")
            }
            tail_text = f"  {json.dumps(extra, default=str)}" if extra else ""
            return f"{when}  {level:<7} {record['message']}{tail_text}"
    return f"{when}  {text}"
