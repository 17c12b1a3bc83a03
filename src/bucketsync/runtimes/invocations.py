"""What kind of Lambda invocation an event is, for the handlers that must tell (stdlib only)."""

from __future__ import annotations

from typing import Any


def is_sqs_batch(event: Any) -> bool:
    """An SQS event source mapping's batch. Lambda never mixes sources in one event, so the
    first record tells; anything else (S3, SNS, EventBridge invoking directly) is not."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not records or not isinstance(records, list) or not isinstance(records[0], dict):
        return False
    return records[0].get("eventSource") == "aws:sqs"
