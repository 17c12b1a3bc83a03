"""SQS calls (send, receive, delete, depth, move tasks), botocore's errors translated."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import error_code, http_status, translate
from bucketsync.errors import RetryableError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10  # SendMessageBatch's limit
# Where StartMessageMoveTask is missing, the plain queue calls do the same move.
_NO_MOVE_TASKS = frozenset({"UnsupportedOperation", "InvalidAction", "UnknownOperationException"})


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


@dataclass(frozen=True)
class Depth:
    visible: int  # waiting to be received
    in_flight: int  # received, not yet deleted
    delayed: int


def depth(sqs: SQSClient, queue_url: str) -> Depth:
    names = (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    try:
        answer = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(names))  # type: ignore[arg-type]
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"GetQueueAttributes {queue_url}") from exc
    values: dict[str, str] = {str(k): v for k, v in answer.get("Attributes", {}).items()}
    visible, in_flight, delayed = (int(values.get(name, 0)) for name in names)
    return Depth(visible, in_flight, delayed)


def receive(
    sqs: SQSClient, queue_url: str, *, count: int, visibility: int, wait: int
) -> list[dict[str, Any]]:
    """Up to ``count`` (<= 10) messages with their attributes, hidden for ``visibility`` s."""
    try:
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=count,
            VisibilityTimeout=visibility,
            WaitTimeSeconds=wait,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"ReceiveMessage {queue_url}") from exc
    return [dict(m) for m in answer.get("Messages", [])]


def send_copies(sqs: SQSClient, queue_url: str, messages: Sequence[dict[str, Any]]) -> set[str]:
    """Send each message's body and attributes to ``queue_url``; the MessageIds that went."""
    entries = [
        {
            "Id": str(n),
            "MessageBody": m["Body"],
            **({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {}),
        }
        for n, m in enumerate(messages)
    ]
    try:
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)  # type: ignore[arg-type]
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"SendMessageBatch {queue_url}") from exc
    return {messages[int(ok["Id"])]["MessageId"] for ok in answer.get("Successful", [])}


def delete(sqs: SQSClient, queue_url: str, messages: Sequence[dict[str, Any]]) -> int:
    """Delete ``messages`` (by receipt handle); how many SQS confirmed."""
    if not messages:
        return 0
    entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
    try:
        answer = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)  # type: ignore[arg-type]
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"DeleteMessageBatch {queue_url}") from exc
    return len(answer.get("Successful", []))


def receive_limit(sqs: SQSClient, queue_url: str) -> int | None:
    """The queue's redrive ``maxReceiveCount``: None without a DLQ."""
    try:
        answer = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"GetQueueAttributes {queue_url}") from exc
    policy = answer.get("Attributes", {}).get("RedrivePolicy")
    if not policy:
        return None
    return int(json.loads(policy)["maxReceiveCount"])


def send_again(
    sqs: SQSClient, queue_url: str, messages: Sequence[tuple[str, str]], *, delay: int
) -> set[str]:
    """Send each (receipt handle, body) again as a new message, ``delay`` seconds hidden, then
    delete the original; the handles whose original is gone. A copy sent whose original could
    not be deleted is a duplicate, which every sink takes as one."""
    renewed: set[str] = set()
    for start in range(0, len(messages), BATCH):
        chunk = messages[start : start + BATCH]
        try:
            answer = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(n), "MessageBody": body, "DelaySeconds": delay}
                    for n, (_, body) in enumerate(chunk)
                ],
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"SendMessageBatch {queue_url}") from exc
        sent = [chunk[int(ok["Id"])][0] for ok in answer.get("Successful", [])]
        if not sent:
            continue
        try:
            deleted = sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(sent)],
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"DeleteMessageBatch {queue_url}") from exc
        renewed.update(sent[int(ok["Id"])] for ok in deleted.get("Successful", []))
    return renewed


def start_move(sqs: SQSClient, source_arn: str, destination_arn: str) -> str | None:
    """StartMessageMoveTask's handle, or None where the service lacks it (the emulator: 500)."""
    try:
        answer = sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)
    except ClientError as exc:
        if http_status(exc) >= 500 or error_code(exc) in _NO_MOVE_TASKS:
            return None
        raise translate(exc, f"StartMessageMoveTask {source_arn}") from exc
    except BotoCoreError as exc:
        raise translate(exc, f"StartMessageMoveTask {source_arn}") from exc
    return str(answer["TaskHandle"])


def move_task(sqs: SQSClient, source_arn: str, handle: str) -> dict[str, Any]:
    """The move task ``handle`` as ListMessageMoveTasks reports it (status, moved, failure)."""
    try:
        answer = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=10)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"ListMessageMoveTasks {source_arn}") from exc
    for task in answer.get("Results", []):
        if task.get("TaskHandle") == handle:
            return dict(task)
    return {}
