"""Sending to SQS, botocore's errors translated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import translate
from bucketsync.errors import RetryableError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10  # SendMessageBatch's limit


def send_all(sqs: SQSClient, queue_url: str, bodies: Sequence[str]) -> None:
    """Send every body, ten at a time; any entry SQS refuses fails the call."""
    for start in range(0, len(bodies), BATCH):
        chunk = bodies[start : start + BATCH]
        try:
            answer = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(n), "MessageBody": body} for n, body in enumerate(chunk)],
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"SendMessageBatch {queue_url}") from exc
        if answer.get("Failed"):
            first = answer["Failed"][0]
            raise RetryableError(
                f"SendMessageBatch {queue_url}: {len(answer['Failed'])} refused, the first "
                f"with {first.get('Code')}: {first.get('Message', '')}"
            )
