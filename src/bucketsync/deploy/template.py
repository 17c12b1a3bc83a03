"""The CloudFormation template, rendered from code: one stack, two shapes.

    catalog   S3 → SQS (+ DLQ) → the sync function → the catalog table (and records tables)
    mirror    S3 → SQS (+ DLQ) → the forwarding function → a sync service (seed 004)

Rendered rather than written by hand because the records tables follow the routing rules, and
the role's statements follow what the chosen sinks use: least privilege is computed, not
copied. ``deploy/cloudformation/*.json`` are renderings kept in the repository (a test holds
them equal to the code) for cfn-lint, checkov and readers.

The bucket's notification is not in the template: ``PutBucketNotificationConfiguration``
replaces a bucket's whole configuration, so ``bucketsync deploy`` merges bucketsync's entry into
what the bucket already has (``deploy.notification``). The queue policy names the bucket by its
*name* (``aws:SourceArn``) and the account, which breaks the usual circular dependency between
bucket, queue policy and notification.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from bucketsync.deploy.alarms import alarms
from bucketsync.deploy.cfn import att, ref, skip, sub
from bucketsync.deploy.parameters import CATALOG, COMMON, FORWARDER, SQS_MAX_MESSAGE
from bucketsync.deploy.permissions import statements
from bucketsync.record_routes import Route
from bucketsync.sinks.catalog.schema import TTL_ATTRIBUTE
from bucketsync.sinks.tables import table_definition

Shape = Literal["catalog", "mirror"]
RUNTIME = "python3.13"
HANDLERS = {
    "catalog": "bucketsync.runtimes.lambda_handler.handler",
    "mirror": "bucketsync.runtimes.forwarder.handler",
}
DLQ_RETENTION = 1_209_600  # 14 days, SQS's longest: time to find and fix a cause
QUEUE_RETENTION = 1_209_600  # under the tombstones' 30 days (docs/ordering.md)


def render(shape: Shape = "catalog", routes: Sequence[Route] = ()) -> dict[str, Any]:
    """The template for ``shape`` (records tables and their permissions from ``routes``)."""
    parameters = COMMON + (CATALOG if shape == "catalog" else FORWARDER)
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"bucketsync ({shape}): S3 events kept in sync, exactly, through SQS.",
        "Parameters": {p.name: p.definition() for p in parameters},
        "Conditions": {
            "CreateBucket": {"Fn::Equals": [ref("CreateBucket"), "true"]},
            "HasReservedConcurrency": {
                "Fn::Not": [{"Fn::Equals": [ref("ReservedConcurrency"), -1]}]
            },
            "HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [ref("AlarmTopicArn"), ""]}]},
        },
        "Resources": {},
        "Outputs": {},
    }
    if shape == "mirror":
        template["Conditions"]["SecretIsPath"] = {
            "Fn::Equals": [
                {"Fn::Select": [0, {"Fn::Split": ["/", ref("SecretParameterName")]}]},
                "",
            ]
        }
    if routes and shape == "catalog":
        template["Parameters"]["Routes"]["Default"] = json.dumps(
            [route.model_dump(exclude_defaults=True) for route in routes], separators=(",", ":")
        )
    resources = template["Resources"]
    resources.update(_queues())
    resources.update(_bucket())
    if shape == "catalog":
        resources["CatalogTable"] = _table(ref("TableName"))
        for n, table in enumerate(_owned_tables(routes), start=1):
            resources[f"RecordsTable{n}"] = _table(table)
    resources.update(_function(shape, routes))
    resources.update(alarms())
    template["Outputs"] = _outputs(shape)
    return template


def _queues() -> dict[str, Any]:
    encrypted = {"SqsManagedSseEnabled": True}
    # checkov asks for a KMS key; SSE-SQS encrypts at rest with SQS-owned keys, and a KMS key
    # would need its key policy to let S3 encrypt the notifications it sends.
    sse_sqs = skip(("CKV_AWS_27", "encrypted at rest with SSE-SQS (SqsManagedSseEnabled)"))
    return {
        "DeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Metadata": sse_sqs,
            "Properties": {"MessageRetentionPeriod": DLQ_RETENTION, **encrypted},
        },
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Metadata": sse_sqs,
            "Properties": {
                "VisibilityTimeout": ref("QueueVisibilityTimeout"),
                "MaximumMessageSize": SQS_MAX_MESSAGE,
                "MessageRetentionPeriod": QUEUE_RETENTION,
                "RedrivePolicy": {
                    "deadLetterTargetArn": att("DeadLetterQueue", "Arn"),
                    "maxReceiveCount": ref("MaxReceiveCount"),
                },
                **encrypted,
            },
        },
        "QueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [ref("Queue")],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "OnlyThisBucketsNotifications",
                            "Effect": "Allow",
                            "Principal": {"Service": "s3.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": att("Queue", "Arn"),
                            "Condition": {
                                "ArnLike": {
                                    "aws:SourceArn": sub("arn:${AWS::Partition}:s3:::${BucketName}")
                                },
                                "StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")},
                            },
                        }
                    ],
                },
            },
        },
    }


def _bucket() -> dict[str, Any]:
    return {
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Condition": "CreateBucket",
            # Kept when the stack goes: a bucket holds the user's objects. `bucketsync destroy
            # --yes` empties and removes it itself; a failed first create still cleans up.
            "DeletionPolicy": "RetainExceptOnCreate",
            "UpdateReplacePolicy": "Retain",
            "Metadata": skip(
                ("CKV_AWS_18", "access logging is the owner's choice of log bucket"),
                ("CKV_AWS_21", "versioning is the BucketVersioning parameter"),
                ("CKV_AWS_144", "cross-region replication is out of scope"),
                ("CKV_AWS_145", "SSE-S3 by default; a KMS key is the owner's choice"),
            ),
            "Properties": {
                "BucketName": ref("BucketName"),
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                    ]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "VersioningConfiguration": {"Status": ref("BucketVersioning")},
            },
        },
        "BucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Condition": "CreateBucket",
            "DeletionPolicy": "RetainExceptOnCreate",  # a kept bucket stays TLS-only
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Bucket": ref("Bucket"),
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [
                                sub("arn:${AWS::Partition}:s3:::${Bucket}"),
                                sub("arn:${AWS::Partition}:s3:::${Bucket}/*"),
                            ],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
            },
        },
    }


def _table(name: Any) -> dict[str, Any]:
    definition = table_definition("")
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Delete",  # `bucketsync destroy` leaves nothing
        "UpdateReplacePolicy": "Delete",
        "Metadata": skip(
            ("CKV_AWS_119", "SSE with the AWS-owned key; a CMK is the owner's choice")
        ),
        "Properties": {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": definition["AttributeDefinitions"],
            "KeySchema": definition["KeySchema"],
            "GlobalSecondaryIndexes": definition["GlobalSecondaryIndexes"],
            "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    }


def _owned_tables(routes: Sequence[Route]) -> list[str]:
    """The rows' tables bucketsync makes: rules without a key of their own (pk/sk)."""
    return list(dict.fromkeys(route.table for route in routes if not route.key))


def _function(shape: Shape, routes: Sequence[Route]) -> dict[str, Any]:
    name = sub("${AWS::StackName}-sync")
    environment: dict[str, Any] = {"BUCKETSYNC_LOG_FORMAT": "json"}
    if shape == "catalog":
        environment |= {
            "BUCKETSYNC_TABLE": ref("TableName"),
            "BUCKETSYNC_WRITE_MODE": ref("WriteMode"),
            "BUCKETSYNC_ORDERING": ref("Ordering"),
            "BUCKETSYNC_LEAN": ref("Lean"),
            "BUCKETSYNC_TOMBSTONE_TTL_DAYS": ref("TombstoneTtlDays"),
            "BUCKETSYNC_ROUTES": ref("Routes"),
        }
    else:
        environment |= {
            "API_ENDPOINT": ref("ApiEndpoint"),
            "BUCKETSYNC_HMAC_SECRET_PARAMETER": ref("SecretParameterName"),
        }
    return {
        "LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "Metadata": skip(("CKV_AWS_158", "log data is encrypted by CloudWatch by default")),
            "Properties": {
                "LogGroupName": sub("/aws/lambda/${AWS::StackName}-sync"),
                "RetentionInDays": ref("LogRetentionDays"),
            },
        },
        "FunctionRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "bucketsync",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": statements(shape, routes),
                        },
                    }
                ],
            },
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Metadata": skip(
                ("CKV_AWS_116", "an SQS event source: the queue's redrive policy is the DLQ"),
                ("CKV_AWS_117", "it needs S3, SQS and DynamoDB only: no VPC to place it in"),
                ("CKV_AWS_173", "no secret in its environment (the forwarder's is read from SSM)"),
                ("CKV_AWS_272", "code signing needs a signing profile the owner sets up"),
                ("CKV_AWS_115", "reserved concurrency is the ReservedConcurrency parameter"),
            ),
            "Properties": {
                "FunctionName": name,
                "Runtime": RUNTIME,
                "Architectures": ["arm64"],
                "Handler": HANDLERS[shape],
                "Code": {"S3Bucket": ref("CodeBucket"), "S3Key": ref("CodeKey")},
                "MemorySize": ref("FunctionMemory"),
                "Timeout": ref("FunctionTimeout"),
                "Role": att("FunctionRole", "Arn"),
                "ReservedConcurrentExecutions": {
                    "Fn::If": [
                        "HasReservedConcurrency",
                        ref("ReservedConcurrency"),
                        ref("AWS::NoValue"),
                    ]
                },
                "Environment": {"Variables": environment},
                "LoggingConfig": {"LogGroup": ref("LogGroup")},
            },
        },
        "EventSourceMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": att("Queue", "Arn"),
                "FunctionName": ref("Function"),
                "BatchSize": ref("BatchSize"),
                "MaximumBatchingWindowInSeconds": ref("BatchingWindowSeconds"),
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": ref("MaximumConcurrency")},
            },
        },
    }


def _outputs(shape: Shape) -> dict[str, Any]:
    outputs = {
        "BucketName": ref("BucketName"),
        "QueueUrl": ref("Queue"),
        "QueueArn": att("Queue", "Arn"),
        "DeadLetterQueueUrl": ref("DeadLetterQueue"),
        "DeadLetterQueueArn": att("DeadLetterQueue", "Arn"),
        "FunctionName": ref("Function"),
        "LogGroupName": ref("LogGroup"),
    }
    if shape == "catalog":
        outputs["TableName"] = ref("CatalogTable")
    return {name: {"Value": value} for name, value in outputs.items()}
