"""``bucketsync status``: is the deployed pipeline keeping up, and is anything failing?

Read from each service: the stack (CloudFormation), the queues' depth (SQS), the age of the
oldest message and the function's errors (CloudWatch metrics), the last error lines (CloudWatch
Logs), the catalog's count for the bucket (one COUNT query), and whether the bucket's
notification entry is still there (someone else's PutBucketNotificationConfiguration can wipe
it, and then nothing arrives at all).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bucketsync.aws import buckets, cloudwatch, queues
from bucketsync.aws.clients import Clients
from bucketsync.aws.s3 import notification_configuration
from bucketsync.aws.stacks import Stack, Stacks
from bucketsync.deploy import notification
from bucketsync.deploy.stack import TAG, notification_id
from bucketsync.errors import ConfigurationError
from bucketsync.sinks.catalog.reader import CatalogReader

WINDOW_MINUTES = 60
ERROR_LINES = 5
ERROR_PATTERN = "ERROR"  # Powertools' "level":"ERROR" and the runtime's [ERROR] lines


@dataclass
class Status:
    stack: Stack
    bucket: str
    queue: queues.Depth
    dlq: queues.Depth
    notification: bool
    oldest_age_seconds: float | None = None
    errors: float | None = None  # the function's Errors over the window (None: no datapoint)
    invocations: float | None = None
    catalog: tuple[int, int] | None = None  # (objects, tombstones)
    recent_errors: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.notification and self.dlq.visible == 0 and not self.errors


def gather(clients: Clients, stack_name: str, *, count: bool = True) -> Status:
    stack = Stacks(clients.client("cloudformation")).describe(stack_name)
    if stack is None:
        raise ConfigurationError(f"no stack {stack_name} (bucketsync deploy makes it)")
    outputs = stack.outputs
    bucket = stack.tags.get(TAG + "bucket") or outputs.get("BucketName", "")
    there = bool(bucket) and buckets.exists(clients.s3, bucket)
    status = Status(
        stack=stack,
        bucket=bucket,
        queue=queues.depth(clients.sqs, outputs["QueueUrl"]),
        dlq=queues.depth(clients.sqs, outputs["DeadLetterQueueUrl"]),
        notification=there
        and notification.has(
            notification_configuration(clients.s3, bucket), notification_id(stack_name)
        ),
    )
    cw = clients.client("cloudwatch")
    queue_name = outputs["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
    status.oldest_age_seconds = cloudwatch.metric(
        cw,
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        {"QueueName": queue_name},
        statistic="Maximum",
        minutes=5,
    )
    function = {"FunctionName": outputs["FunctionName"]}
    status.errors = cloudwatch.metric(
        cw, "AWS/Lambda", "Errors", function, statistic="Sum", minutes=WINDOW_MINUTES
    )
    status.invocations = cloudwatch.metric(
        cw, "AWS/Lambda", "Invocations", function, statistic="Sum", minutes=WINDOW_MINUTES
    )
    since = datetime.now(UTC) - timedelta(minutes=WINDOW_MINUTES)
    last: deque[str] = deque(maxlen=ERROR_LINES)
    for event in cloudwatch.log_events(
        clients.client("logs"),
        outputs["LogGroupName"],
        start_ms=int(since.timestamp() * 1000),
        pattern=ERROR_PATTERN,
    ):
        last.append(event.message)
    status.recent_errors = list(last)
    if count and "TableName" in outputs and bucket:
        status.catalog = CatalogReader(clients.dynamodb, outputs["TableName"]).count(bucket)
    return status
