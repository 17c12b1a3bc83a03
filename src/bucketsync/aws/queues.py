"""SQS calls (send, receive, delete, visibility, depth, move tasks), their errors translated."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import error_code, http_status, translate
from bucketsync.errors import BucketSyncError, RetryableError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

BATCH = 10  # the limit of SendMessageBatch, DeleteMessageBatch, ChangeMessageVisibilityBatch
BATCH_BYTES = 262_144  # SendMessageBatch's limit on the sum of a batch's bodies
# Where StartMessageMoveTask is missing, the plain queue calls do the same move.
_NO_MOVE_TASKS = frozenset({"UnsupportedOperation", "InvalidAction", "UnknownOperationException"})

T = TypeVar("T")


@dataclass(frozen=True)
class _Answer(Generic[T]):
    """One batch request's answer, mapped back onto the items it sent."""

    succeeded: list[T] = field(default_factory=list)
    failed: list[tuple[T, Mapping[str, Any]]] = field(default_factory=list)  # SQS's entry
    error: BucketSyncError | None = None  # the request failed whole (translated)


def _in_tens(
    call: Callable[..., Any],
    queue_url: str,
    items: Sequence[T],
    entry: Callable[[T], dict[str, Any]],
    action: str,
) -> Iterator[_Answer[T]]:
    """Send ``items`` ten a request (``entry`` makes each one's fields; its Id is its index)
    and answer each request in turn. A request that fails whole answers with the error, so
    the caller decides whether the next ten are still sent (a generator: it stops asking)."""
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        entries = [{"Id": str(n), **entry(item)} for n, item in enumerate(chunk)]
        try:
            answer = call(QueueUrl=queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            error = translate(exc, action)
            error.__cause__ = exc  # what ``raise ... from exc`` keeps, for a later raise
            yield _Answer(error=error)
            continue
        yield _Answer(
            [chunk[int(ok["Id"])] for ok in answer.get("Successful", [])],
            [(chunk[int(bad["Id"])], bad) for bad in answer.get("Failed", [])],
        )


def send_all(sqs: SQSClient, queue_url: str, bodies: Sequence[str]) -> None:
    """Send every body, ten at a time; any entry SQS refuses fails the call."""
    action = f"SendMessageBatch {queue_url}"
    for answer in _in_tens(
        sqs.send_message_batch, queue_url, bodies, lambda body: {"MessageBody": body}, action
    ):
        if answer.error is not None:
            raise answer.error
        if answer.failed:
            first = answer.failed[0][1]
            raise RetryableError(
                f"{action}: {len(answer.failed)} refused, the first "
                f"with {first.get('Code')}: {first.get('Message', '')}"
            )


def delete_messages(sqs: SQSClient, queue_url: str, handles: Sequence[str]) -> None:
    """Delete applied messages by receipt handle, ten at a time. A failure is only logged: the
    messages come back and are applied again, harmlessly."""
    for answer in _in_tens(
        sqs.delete_message_batch,
        queue_url,
        handles,
        lambda handle: {"ReceiptHandle": handle},
        "DeleteMessageBatch",
    ):
        if answer.error is not None:
            log.warning("DeleteMessageBatch failed: %s", answer.error)
        for _, failed in answer.failed:
            log.warning("could not delete message: %s", failed.get("Message"))


def change_visibility(
    sqs: SQSClient, queue_url: str, entries: Sequence[tuple[str, int]]
) -> tuple[set[str], set[str]]:
    """Set each receipt handle's visibility timeout (seconds), ten a request.

    Returns (changed, refused): a refused handle is no longer ours (it came back and was taken
    again, or was deleted). A request that fails whole is logged, and its handles are in
    neither set: they may be tried again."""
    changed: set[str] = set()
    refused: set[str] = set()
    for answer in _in_tens(
        sqs.change_message_visibility_batch,
        queue_url,
        entries,
        lambda pair: {"ReceiptHandle": pair[0], "VisibilityTimeout": pair[1]},
        "ChangeMessageVisibilityBatch",
    ):
        if answer.error is not None:
            log.warning("%s", answer.error)
        changed.update(handle for handle, _ in answer.succeeded)
        for (handle, _), failed in answer.failed:
            refused.add(handle)
            log.debug("visibility not changed: %s", failed.get("Message"))
    return changed, refused


def visibility_timeout(sqs: SQSClient, queue_url: str) -> int | None:
    """The queue's own visibility timeout in seconds (None: the queue does not say)."""
    seconds = _attribute(sqs, queue_url, "VisibilityTimeout")
    return None if seconds is None else int(seconds)


def _attribute(sqs: SQSClient, queue_url: str, name: str) -> str | None:
    """One of the queue's attributes, as SQS writes it (None: it has none)."""
    try:
        answer = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[name])  # type: ignore[list-item]
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"GetQueueAttributes {queue_url}") from exc
    return answer.get("Attributes", {}).get(name)  # type: ignore[call-overload, no-any-return]


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
    sqs: SQSClient,
    queue_url: str,
    *,
    count: int,
    wait: int,
    visibility: int | None,
    attributes: Sequence[str] = ("All",),
    message_attributes: bool = True,
) -> list[dict[str, Any]]:
    """Up to ``count`` (<= 10) messages, hidden for ``visibility`` s (None: the queue's own
    timeout), with the system ``attributes`` named and, if ``message_attributes``, their own."""
    request: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": count,
        "WaitTimeSeconds": wait,
        "MessageSystemAttributeNames": list(attributes),
    }
    if visibility is not None:
        request["VisibilityTimeout"] = visibility
    if message_attributes:
        request["MessageAttributeNames"] = ["All"]
    try:
        answer = sqs.receive_message(**request)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"ReceiveMessage {queue_url}") from exc
    return [dict(m) for m in answer.get("Messages", [])]


def send_copies(
    sqs: SQSClient, queue_url: str, messages: Sequence[dict[str, Any]], *, delay: int = 0
) -> set[str]:
    """Send each message's body and attributes to ``queue_url`` (``delay`` seconds hidden), in
    one request: at most ten, ``BATCH_BYTES`` in all (``batches``); the MessageIds that went."""
    entries = [
        {
            "Id": str(n),
            "MessageBody": m["Body"],
            **({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {}),
            **({"DelaySeconds": delay} if delay else {}),
        }
        for n, m in enumerate(messages)
    ]
    try:
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)  # type: ignore[arg-type]
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"SendMessageBatch {queue_url}") from exc
    return {messages[int(ok["Id"])]["MessageId"] for ok in answer.get("Successful", [])}


def delete(
    sqs: SQSClient, queue_url: str, messages: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Delete ``messages`` (by receipt handle, at most ten); those SQS confirmed."""
    if not messages:
        return []
    entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
    try:
        answer = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)  # type: ignore[arg-type]
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"DeleteMessageBatch {queue_url}") from exc
    return [messages[int(ok["Id"])] for ok in answer.get("Successful", [])]


def batches(messages: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """``messages`` in order, in batches SendMessageBatch takes: ten at most, ``BATCH_BYTES``
    of bodies at most (a single larger message alone)."""
    batch: list[dict[str, Any]] = []
    size = 0
    for message in messages:
        length = len(message["Body"].encode())
        if batch and (size + length > BATCH_BYTES or len(batch) == BATCH):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += length
    if batch:
        yield batch


@dataclass(frozen=True)
class Moved:
    gone: list[dict[str, Any]]  # copied to the destination and deleted from the source
    unsent: int  # SQS refused their copies: they stay in the source


def move(
    sqs: SQSClient,
    messages: Sequence[dict[str, Any]],
    *,
    source_url: str,
    to_url: str,
    delay: int = 0,
) -> Moved:
    """Move received messages: send before delete. Each is copied to ``to_url`` (``delay``
    seconds hidden) and only the originals whose copy SQS confirmed are deleted from
    ``source_url``; a crash or an error in between duplicates a message, never loses it (the
    sinks' ordering stamps make a duplicate harmless)."""
    gone: list[dict[str, Any]] = []
    unsent = 0
    for batch in batches(messages):
        sent = send_copies(sqs, to_url, batch, delay=delay)
        went = [m for m in batch if m["MessageId"] in sent]
        gone += delete(sqs, source_url, went)
        unsent += len(batch) - len(went)
    return Moved(gone, unsent)


def receive_limit(sqs: SQSClient, queue_url: str) -> int | None:
    """The queue's redrive ``maxReceiveCount``: None without a DLQ."""
    policy = _attribute(sqs, queue_url, "RedrivePolicy")
    return int(json.loads(policy)["maxReceiveCount"]) if policy else None


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
