"""Is a stack's resource still there? Asked of each resource's own service, not CloudFormation.

``bucketsync destroy`` records the stack's resources before deleting it and asks again after:
CloudFormation reporting DELETE_COMPLETE is not proof (a resource it skipped, or one kept by
a ``Retain`` policy, outlives its stack).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import error_code, http_status, translate

_GONE = frozenset(
    {
        "ResourceNotFoundException",
        "NoSuchEntity",
        "NoSuchBucket",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "404",
        "NotFound",
    }
)


def table_exists(dynamodb: Any, table: str) -> bool:
    return _present(lambda: dynamodb.describe_table(TableName=table), f"DescribeTable {table}")


def present(client: Callable[[str], Any], resource_type: str, physical_id: str) -> bool | None:
    """True or False for the types bucketsync's stacks hold; None for a type it cannot ask."""
    asks: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "AWS::DynamoDB::Table": ("dynamodb", lambda c: c.describe_table(TableName=physical_id)),
        "AWS::SQS::Queue": (
            "sqs",
            lambda c: c.get_queue_attributes(QueueUrl=physical_id, AttributeNames=["QueueArn"]),
        ),
        "AWS::Lambda::Function": ("lambda", lambda c: c.get_function(FunctionName=physical_id)),
        "AWS::Lambda::EventSourceMapping": (
            "lambda",
            lambda c: c.get_event_source_mapping(UUID=physical_id),
        ),
        "AWS::IAM::Role": ("iam", lambda c: c.get_role(RoleName=physical_id)),
        "AWS::S3::Bucket": ("s3", lambda c: c.head_bucket(Bucket=physical_id)),
    }
    if resource_type == "AWS::Logs::LogGroup":
        logs = client("logs")
        try:
            groups = logs.describe_log_groups(logGroupNamePrefix=physical_id)["logGroups"]
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"DescribeLogGroups {physical_id}") from exc
        return any(g.get("logGroupName") == physical_id for g in groups)
    if resource_type not in asks:
        return None
    service, ask = asks[resource_type]
    service_client = client(service)
    return _present(lambda: ask(service_client), f"{resource_type} {physical_id}")


def _present(call: Callable[[], Any], what: str) -> bool:
    try:
        call()
    except ClientError as exc:
        if error_code(exc) in _GONE or http_status(exc) == 404:
            return False
        raise translate(exc, what) from exc
    except BotoCoreError as exc:
        raise translate(exc, what) from exc
    return True
