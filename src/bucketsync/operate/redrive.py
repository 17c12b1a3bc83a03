"""``bucketsync dlq redrive``: dead messages back to the queue, once their cause is fixed.

Send before delete: each message is copied to the queue, and only the copies SQS confirmed are
deleted from the DLQ. A crash between the two leaves the message in both (the DLQ's copy comes
back when its visibility timeout ends), so a redrive interrupted at any point duplicates and
never loses; the sinks' ordering stamps make a duplicate harmless.

Where SQS offers ``StartMessageMoveTask`` (and no ``--max`` asks for part of the DLQ) it does the
move itself; the emulator answers that call 500, so the plain queue calls do it there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bucketsync.aws import queues
from bucketsync.errors import MalformedEventError
from bucketsync.events.envelopes import parse_message

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

VISIBILITY = 120  # seconds a received dead message stays hidden while it is copied
EMPTY_POLLS = 2  # long polls that come back empty before the DLQ is taken as drained
TASK_POLL = 5.0


@dataclass(frozen=True)
class Queues:
    dlq_url: str
    dlq_arn: str
    queue_url: str
    queue_arn: str


@dataclass
class Redriven:
    moved: int = 0
    failed: int = 0  # copies SQS refused: still in the DLQ
    method: str = "queue calls"
    sample: list[str] = field(default_factory=list)  # what the messages were about (dry run)
    waiting: int = 0  # the DLQ's depth before


def describe(body: str) -> str:
    """One line naming what a dead message was about: its objects, or why it is not one."""
    try:
        changes = parse_message(body)
    except MalformedEventError as exc:
        return f"(not an S3 event: {exc})"
    if not changes:
        return "(an event with no object change, e.g. s3:TestEvent)"
    return ", ".join(f"{c.event_name} s3://{c.bucket}/{c.key}" for c in changes[:3]) + (
        f" (+{len(changes) - 3})" if len(changes) > 3 else ""
    )


def peek(sqs: SQSClient, where: Queues, count: int = 10) -> Redriven:
    """The DLQ's depth and what its first messages are about; nothing moves or hides."""
    out = Redriven(waiting=queues.depth(sqs, where.dlq_url).visible, method="dry run")
    # VisibilityTimeout 0: each peeked message is receivable again at once.
    for message in queues.receive(sqs, where.dlq_url, count=min(count, 10), visibility=0, wait=1):
        out.sample.append(describe(message["Body"]))
    return out


def redrive(
    sqs: SQSClient,
    where: Queues,
    *,
    limit: int | None = None,
    visibility: int = VISIBILITY,
    on_batch: Callable[[int], None] = lambda moved: None,
    move_task_sqs: SQSClient | None = None,
) -> Redriven:
    """Move up to ``limit`` messages (all when None) from the DLQ back to the queue."""
    out = Redriven(waiting=queues.depth(sqs, where.dlq_url).visible)
    if limit is None and move_task_sqs is not None:
        handle = queues.start_move(move_task_sqs, where.dlq_arn, where.queue_arn)
        if handle is not None:
            out.method = "StartMessageMoveTask"
            return _follow(sqs, where, handle, out, on_batch)
    seen: set[str] = set()
    empty = 0
    while limit is None or out.moved < limit:
        want = 10 if limit is None else min(10, limit - out.moved)
        received = queues.receive(sqs, where.dlq_url, count=want, visibility=visibility, wait=1)
        fresh = [m for m in received if m["MessageId"] not in seen]
        if not fresh:
            empty += 1
            if empty >= EMPTY_POLLS:
                break
            continue
        empty = 0
        seen.update(m["MessageId"] for m in fresh)
        for batch in queues.batches(fresh):
            # Only what SQS confirmed leaves the DLQ; the rest reappears there.
            moved = queues.move(sqs, batch, source_url=where.dlq_url, to_url=where.queue_url)
            out.moved += len(moved.gone)
            out.failed += moved.unsent
            on_batch(out.moved)
    return out


def _follow(
    sqs: SQSClient, where: Queues, handle: str, out: Redriven, on_batch: Callable[[int], None]
) -> Redriven:
    while True:
        task = queues.move_task(sqs, where.dlq_arn, handle)
        out.moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        on_batch(out.moved)
        status = task.get("Status", "")
        if status in ("COMPLETED", "CANCELLED", "FAILED") or not task:
            if status == "FAILED":
                out.failed = out.waiting - out.moved
            return out
        time.sleep(TASK_POLL)
