"""The local stack's resources made, converged and removed (``local.stack``), one step each.

Each function is one step of ``ensure_stack`` or ``teardown_stack``: botocore's errors become
bucketsync's (``aws.errors.translate``) under the step's name, and a resource already there (on
a create) or already gone (on a delete) is the answer the step wanted, not an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import error_code, translate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef
    from mypy_boto3_sqs import SQSClient

_NO_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


@contextmanager
def _step(action: str, *settled: str) -> Iterator[None]:
    """SDK failures become bucketsync errors that say which step failed; a ``ClientError``
    whose code is in ``settled`` (already made, already gone) ends the step quietly."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in settled:
            return
        raise translate(exc, action) from exc
    except BotoCoreError as exc:
        raise translate(exc, action) from exc


# --- the bucket


def create_bucket(s3: S3Client, bucket: str, region: str) -> None:
    """Create ``bucket`` in ``region``; one already ours is left as it is."""
    with _step(f"CreateBucket {bucket}", "BucketAlreadyOwnedByYou"):
        if region == "us-east-1":  # us-east-1 refuses a LocationConstraint naming itself
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
            )


def enable_versioning(s3: S3Client, bucket: str) -> None:
    with _step(f"PutBucketVersioning {bucket}"):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def is_versioned(s3: S3Client, bucket: str) -> bool:
    """Whether versioning is enabled on ``bucket`` (suspended or never enabled: False)."""
    with _step(f"GetBucketVersioning {bucket}"):
        return s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"


def delete_bucket(s3: S3Client, bucket: str) -> None:
    """Delete every version and delete marker in ``bucket``, then the bucket; one already
    gone is fine."""
    with _step(f"empty bucket {bucket}", "NoSuchBucket"):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed: list[ObjectIdentifierTypeDef] = [
                {"Key": entry["Key"], "VersionId": entry["VersionId"]}
                for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            if doomed:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
        s3.delete_bucket(Bucket=bucket)


# --- the queues


def ensure_queue(sqs: SQSClient, name: str, attributes: Mapping[str, str]) -> tuple[str, str]:
    """Create the queue if missing, then set ``attributes`` (so a changed setting converges);
    its URL and ARN."""
    with _step(f"CreateQueue {name}"):
        # Without attributes CreateQueue on an existing queue returns its URL and changes nothing.
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        if attributes:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=dict(attributes))  # type: ignore[arg-type]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    return url, arn


def set_queue_policy(
    sqs: SQSClient, queue_url: str, queue_arn: str, policy: Mapping[str, Any]
) -> None:
    """Replace the queue's access policy with ``policy`` (the JSON document, as a mapping)."""
    with _step(f"SetQueueAttributes Policy {queue_arn}"):
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})


def delete_queue(sqs: SQSClient, name: str) -> None:
    """Delete the queue named ``name``; one already gone is fine."""
    with _step(f"delete queue {name}", *_NO_QUEUE):
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])


# --- the tables


def create_table(dynamodb: DynamoDBClient, definition: Mapping[str, Any]) -> None:
    """CreateTable with ``definition`` (its arguments); a table of that name already there
    (being created, or made before) is left as it is."""
    with _step(f"CreateTable {definition['TableName']}", "ResourceInUseException"):
        dynamodb.create_table(**definition)


def wait_for_table(dynamodb: DynamoDBClient, table: str) -> None:
    """Until the table is ACTIVE (two minutes at most: a waiter's failure is retryable)."""
    with _step(f"wait for table {table}"):
        dynamodb.get_waiter("table_exists").wait(
            TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )


def ensure_ttl(dynamodb: DynamoDBClient, table: str, attribute: str) -> None:
    """Time to live on ``attribute``, unless it is already on (or being turned on) there."""
    with _step(f"TTL on {table}"):
        ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        enabled = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        if enabled and ttl.get("AttributeName") == attribute:
            return
        dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
        )


def delete_table(dynamodb: DynamoDBClient, table: str) -> None:
    """Delete the table; one already gone is fine."""
    with _step(f"delete table {table}", "ResourceNotFoundException"):
        dynamodb.delete_table(TableName=table)
