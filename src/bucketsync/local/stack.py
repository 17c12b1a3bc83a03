"""The local stack: bucket → notification → queue (with DLQ) → worker → catalog table.

``ensure_stack`` is idempotent and converging: run it any number of times against the emulator
(or a real account) and it creates what is missing and fixes what differs, without touching
anything else on the bucket. The same calls work on real AWS, including the queue policy that
lets S3 deliver to the queue, which the emulator does not check.

Setting the bucket's notification configuration makes S3 (and the emulator) send one
``s3:TestEvent`` message to the queue::

    {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "...", "Bucket": "<bucket>", ...}

It is deliberately left in the queue: it is what real S3 does, and the engine must recognise
and skip it. ``ensure_stack`` only sets the configuration when ours is missing or differs, so
calling it again sends no further test event.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bucketsync.aws import provision
from bucketsync.aws.clients import Clients
from bucketsync.aws.s3 import notification_configuration, put_notification_configuration
from bucketsync.deploy.notification import EVENTS, Entry, merged
from bucketsync.record_routes import Route
from bucketsync.sinks.catalog.schema import TTL_ATTRIBUTE
from bucketsync.sinks.tables import table_definition

NOTIFICATION_ID: Final = "bucketsync"
NOTIFICATION_EVENTS: Final = EVENTS
DLQ_SUFFIX: Final = "-dlq"
DEFAULT_PREFIX: Final = "bucketsync-local"
DEFAULT_TABLE: Final = "bucketsync-catalog"  # Settings.table's default
# Buckets allow 63 characters, queues 80 (the DLQ adds 4): the bucket is the tightest.
_MAX_NAME: Final = 63
_UNIQUE_DIGITS: Final = 12


def _slug(prefix: str, room: int) -> str:
    """``prefix`` reduced to what a bucket, a queue and a table name all accept."""
    slug = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-")
    slug = re.sub(r"-{2,}", "-", slug)[:room].rstrip("-")
    return slug or "bucketsync"


@dataclass(frozen=True)
class StackNames:
    """Names of the four resources; positional order: bucket, queue, dlq, table."""

    bucket: str
    queue: str
    dlq: str
    table: str

    @classmethod
    def named(cls, prefix: str) -> StackNames:
        """Deterministic names from one prefix: ``<p>``, ``<p>``, ``<p>-dlq``, ``<p>``."""
        base = _slug(prefix, _MAX_NAME)
        if len(base) < 3:
            base = f"{base}-bs"
        return cls(bucket=base, queue=base, dlq=f"{base}{DLQ_SUFFIX}", table=base)

    @classmethod
    def default(cls) -> StackNames:
        """The names ``bucketsync local up`` uses; the table is ``Settings.table``'s default."""
        return cls(
            bucket=DEFAULT_PREFIX,
            queue=DEFAULT_PREFIX,
            dlq=f"{DEFAULT_PREFIX}{DLQ_SUFFIX}",
            table=DEFAULT_TABLE,
        )

    @classmethod
    def unique(cls, prefix: str = "bs") -> StackNames:
        """Fresh names no other call returns: ``<prefix>-<12 hex digits>`` (prefix sanitised)."""
        token = uuid.uuid4().hex[:_UNIQUE_DIGITS]
        return cls.named(f"{_slug(prefix, _MAX_NAME - _UNIQUE_DIGITS - 1)}-{token}")


@dataclass(frozen=True)
class Stack:
    """What ``ensure_stack`` made, with the URLs and ARNs the worker and tests need."""

    names: StackNames
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    versioned: bool = False  # versioning is enabled on the bucket (whoever enabled it)

    @property
    def bucket(self) -> str:
        return self.names.bucket

    @property
    def table(self) -> str:
        return self.names.table


def ensure_stack(
    clients: Clients,
    names: StackNames,
    *,
    max_receive_count: int = 3,
    visibility_timeout: int = 30,
    versioned: bool = False,
) -> Stack:
    """Create or converge the bucket, DLQ, queue (redrive, S3 policy), table (TTL), notification.

    ``versioned=True`` enables versioning on the bucket; ``False`` leaves an existing bucket's
    versioning as it is (S3 cannot un-version a bucket, only suspend it).
    """
    region = clients.settings.region
    is_versioned = _ensure_bucket(clients, names.bucket, region, versioned)
    dlq_url, dlq_arn = provision.ensure_queue(clients.sqs, names.dlq, {})
    queue_url, queue_arn = provision.ensure_queue(
        clients.sqs,
        names.queue,
        {
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
            ),
        },
    )
    _ensure_queue_policy(clients, queue_url, queue_arn, names.bucket)
    _ensure_table(clients, names.table)
    _ensure_notification(clients, names.bucket, queue_arn)
    return Stack(names, queue_url, queue_arn, dlq_url, dlq_arn, versioned=is_versioned)


def teardown_stack(clients: Clients, names: StackNames) -> None:
    """Delete everything ``ensure_stack`` made for ``names``; what is already gone is skipped.

    Meant for tests and the emulator: on a real account it deletes every object in the bucket.
    """
    provision.delete_bucket(clients.s3, names.bucket)
    for queue in (names.queue, names.dlq):
        provision.delete_queue(clients.sqs, queue)
    provision.delete_table(clients.dynamodb, names.table)


# --- one function per resource


def _ensure_bucket(clients: Clients, bucket: str, region: str, versioned: bool) -> bool:
    """Create the bucket if missing; return whether versioning is enabled on it now."""
    provision.create_bucket(clients.s3, bucket, region)
    if versioned:
        provision.enable_versioning(clients.s3, bucket)
        return True
    return provision.is_versioned(clients.s3, bucket)


def _ensure_queue_policy(clients: Clients, queue_url: str, queue_arn: str, bucket: str) -> None:
    """Let S3 send this bucket's notifications to the queue (real AWS refuses otherwise)."""
    _, partition, _, _, account, _ = queue_arn.split(":", 5)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowS3Notifications",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:s3:::{bucket}"},
                    "StringEquals": {"aws:SourceAccount": account},
                },
            }
        ],
    }
    provision.set_queue_policy(clients.sqs, queue_url, queue_arn, policy)


def ensure_records_tables(clients: Clients, routes: Sequence[Route]) -> list[str]:
    """Create the tables routing rules load rows into (pk/sk, TTL for tombstone manifests).

    Rules with their own ``key`` write into a table whose schema is the user's: left alone.
    """
    made = []
    for table in dict.fromkeys(route.table for route in routes if not route.key):
        _ensure_table(clients, table)
        made.append(table)
    return made


def _ensure_table(clients: Clients, table: str) -> None:
    provision.create_table(clients.dynamodb, table_definition(table))
    provision.wait_for_table(clients.dynamodb, table)
    provision.ensure_ttl(clients.dynamodb, table, TTL_ATTRIBUTE)


def _ensure_notification(clients: Clients, bucket: str, queue_arn: str) -> None:
    """Add (or replace) our queue configuration, keeping every other one on the bucket."""
    current = notification_configuration(clients.s3, bucket)
    entry = Entry(NOTIFICATION_ID, queue_arn)
    if entry.configuration() in current.get("QueueConfigurations", []):
        return  # as it should be: putting it again would send another s3:TestEvent
    put_notification_configuration(clients.s3, bucket, merged(current, entry))


def queue_counts(clients: Clients, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages in a queue, as SQS approximates them."""
    attributes = clients.sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )
