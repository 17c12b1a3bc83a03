"""The IAM policy the *deploying* user needs: ``bucketsync deploy --print-policy``.

CloudFormation creates the stack's resources with the caller's own permissions (no service
role), so the deployer needs, besides the calls ``deploy``, ``status``, ``logs``, ``dlq
redrive``, the backfill and ``destroy`` make themselves, what CloudFormation does for each
resource type of the template. Everything is scoped to this deployment's names: the stack, its
function, role, queues, log group and alarms (all named after the stack), its tables, the
bucket, and the shared artifacts bucket. ``tests/integration/test_deployer_policy.py`` records
every call the commands make against the emulator and holds them to ``CALLS``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# The calls bucketsync's own deploy and operate code makes, and the IAM action each needs
# (where the action is not the operation's own name).
CALLS: Mapping[str, str] = {
    "cloudformation.DescribeStacks": "cloudformation:DescribeStacks",
    "cloudformation.CreateStack": "cloudformation:CreateStack",
    "cloudformation.UpdateStack": "cloudformation:UpdateStack",
    "cloudformation.DeleteStack": "cloudformation:DeleteStack",
    "cloudformation.CreateChangeSet": "cloudformation:CreateChangeSet",
    "cloudformation.DescribeChangeSet": "cloudformation:DescribeChangeSet",
    "cloudformation.DeleteChangeSet": "cloudformation:DeleteChangeSet",
    "cloudformation.DescribeStackEvents": "cloudformation:DescribeStackEvents",
    "cloudformation.ListStackResources": "cloudformation:ListStackResources",
    "cloudformation.GetTemplate": "cloudformation:GetTemplate",
    "sts.GetCallerIdentity": "",  # needs no permission
    "s3.HeadBucket": "s3:ListBucket",
    "s3.ListObjectsV2": "s3:ListBucket",
    "s3.ListObjectVersions": "s3:ListBucketVersions",
    "s3.HeadObject": "s3:GetObject",
    "s3.GetObject": "s3:GetObject",
    "s3.PutObject": "s3:PutObject",
    "s3.DeleteObjects": "s3:DeleteObjectVersion",  # and s3:DeleteObject
    "s3.CreateBucket": "s3:CreateBucket",
    "s3.DeleteBucket": "s3:DeleteBucket",
    "s3.PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3.PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3.GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "s3.PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "sqs.GetQueueAttributes": "sqs:GetQueueAttributes",
    "sqs.ReceiveMessage": "sqs:ReceiveMessage",
    "sqs.SendMessageBatch": "sqs:SendMessage",
    "sqs.DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs.StartMessageMoveTask": "sqs:StartMessageMoveTask",
    "sqs.ListMessageMoveTasks": "sqs:ListMessageMoveTasks",
    "dynamodb.DescribeTable": "dynamodb:DescribeTable",
    "dynamodb.Query": "dynamodb:Query",
    "dynamodb.PutItem": "dynamodb:PutItem",
    "dynamodb.BatchWriteItem": "dynamodb:BatchWriteItem",
    "dynamodb.UpdateItem": "dynamodb:UpdateItem",
    "dynamodb.GetItem": "dynamodb:GetItem",
    "lambda.GetFunction": "lambda:GetFunction",
    "lambda.GetEventSourceMapping": "lambda:GetEventSourceMapping",
    "iam.GetRole": "iam:GetRole",
    "cloudwatch-logs.DescribeLogGroups": "logs:DescribeLogGroups",
    "cloudwatch-logs.FilterLogEvents": "logs:FilterLogEvents",
    "cloudwatch.GetMetricStatistics": "cloudwatch:GetMetricStatistics",
}

# What CloudFormation calls, with the deployer's credentials, to create, update and delete each
# resource type of the template (from each type's handler permissions in the CloudFormation
# resource schemas).
RESOURCE_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "AWS::SQS::Queue": (
        "sqs:CreateQueue",
        "sqs:DeleteQueue",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ListQueueTags",
        "sqs:TagQueue",
        "sqs:UntagQueue",
    ),
    "AWS::SQS::QueuePolicy": ("sqs:SetQueueAttributes", "sqs:GetQueueAttributes"),
    "AWS::DynamoDB::Table": (
        "dynamodb:CreateTable",
        "dynamodb:DeleteTable",
        "dynamodb:UpdateTable",
        "dynamodb:Describe*",
        "dynamodb:List*",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:TagResource",
        "dynamodb:UntagResource",
    ),
    "AWS::Lambda::Function": (
        "lambda:CreateFunction",
        "lambda:DeleteFunction",
        "lambda:GetFunction",
        "lambda:GetFunctionConfiguration",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:PutFunctionConcurrency",
        "lambda:DeleteFunctionConcurrency",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:ListTags",
        "lambda:TagResource",
        "lambda:UntagResource",
    ),
    "AWS::Lambda::EventSourceMapping": (
        "lambda:CreateEventSourceMapping",
        "lambda:DeleteEventSourceMapping",
        "lambda:GetEventSourceMapping",
        "lambda:UpdateEventSourceMapping",
        "lambda:ListEventSourceMappings",
    ),
    "AWS::IAM::Role": (
        "iam:CreateRole",
        "iam:DeleteRole",
        "iam:GetRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:GetRolePolicy",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
        "iam:UpdateAssumeRolePolicy",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:PassRole",
    ),
    "AWS::Logs::LogGroup": (
        "logs:CreateLogGroup",
        "logs:DeleteLogGroup",
        "logs:PutRetentionPolicy",
        "logs:DeleteRetentionPolicy",
        "logs:DescribeLogGroups",
        "logs:TagResource",
        "logs:UntagResource",
        "logs:ListTagsForResource",
    ),
    "AWS::CloudWatch::Alarm": (
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:TagResource",
        "cloudwatch:UntagResource",
    ),
    "AWS::S3::Bucket": (
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:GetBucket*",
        "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketOwnershipControls",
        "s3:PutBucketVersioning",
        "s3:PutBucketTagging",
    ),
    "AWS::S3::BucketPolicy": ("s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"),
}


def policy(
    *, stack: str, bucket: str, tables: Sequence[str], resource_types: Sequence[str]
) -> dict[str, Any]:
    """The deploying user's policy for one deployment, as an IAM policy document."""
    if any(kind not in RESOURCE_ACTIONS for kind in resource_types):
        unknown = sorted(set(resource_types) - set(RESOURCE_ACTIONS))
        raise ValueError(f"no deployer actions known for {', '.join(unknown)}")
    region_account = "*:*"  # the policy holds for the deployment in any region of the account
    named = {
        "stack": f"arn:aws:cloudformation:{region_account}:stack/{stack}/*",
        "queues": f"arn:aws:sqs:{region_account}:{stack}-*",
        "function": f"arn:aws:lambda:{region_account}:function:{stack}-sync",
        "mappings": f"arn:aws:lambda:{region_account}:event-source-mapping:*",
        "role": f"arn:aws:iam::*:role/{stack}-*",
        "logs": f"arn:aws:logs:{region_account}:log-group:/aws/lambda/{stack}-sync*",
        "alarms": f"arn:aws:cloudwatch:{region_account}:alarm:{stack}-*",
        "bucket": f"arn:aws:s3:::{bucket}",
        "objects": f"arn:aws:s3:::{bucket}/*",
        "artifacts": "arn:aws:s3:::bucketsync-artifacts-*",
        "artifact objects": f"arn:aws:s3:::bucketsync-artifacts-*/{stack}/*",
    }
    tables_arns = [f"arn:aws:dynamodb:{region_account}:table/{t}" for t in tables]
    tables_arns += [f"{t}/index/*" for t in tables_arns]
    where = {
        "sqs": [named["queues"]],
        "dynamodb": tables_arns,
        "iam": [named["role"]],
        "logs": [named["logs"]],
        "cloudwatch": [named["alarms"]],
        "s3": [named["bucket"], named["objects"]],
    }
    statements: list[dict[str, Any]] = [
        _allow("Stack", _actions("cloudformation"), [named["stack"]]),
        _allow(
            "Code",
            [
                "s3:CreateBucket",
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutEncryptionConfiguration",
                "s3:DeleteBucket",
            ],
            [named["artifacts"]],
        ),
        _allow(
            "CodeObjects",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
            [named["artifact objects"]],
        ),
        _allow(
            "Bucket",
            ["s3:ListBucket", "s3:GetBucketNotification", "s3:PutBucketNotification"],
            [named["bucket"]],
        ),
        _allow("Objects", ["s3:GetObject"], [named["objects"]]),
        _allow(
            "Function",
            sorted(set(RESOURCE_ACTIONS["AWS::Lambda::Function"])),
            [named["function"]],
        ),
        _allow(
            "Mapping",
            sorted(set(RESOURCE_ACTIONS["AWS::Lambda::EventSourceMapping"])),
            [named["mappings"]],
        ),
        _allow("Metrics", ["cloudwatch:GetMetricStatistics"], ["*"]),
        _allow(
            "Operate",
            [
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
                "sqs:DeleteMessage",
                "sqs:StartMessageMoveTask",
                "sqs:ListMessageMoveTasks",
                "logs:FilterLogEvents",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:UpdateItem",
                "dynamodb:GetItem",
            ],
            [named["queues"], named["logs"], *tables_arns],
        ),
    ]
    for service in ("sqs", "dynamodb", "iam", "logs", "cloudwatch", "s3"):
        actions = sorted(
            {
                action
                for kind in resource_types
                for action in RESOURCE_ACTIONS.get(kind, ())
                if action.startswith(f"{service}:")
            }
        )
        if actions:
            statements.append(_allow(f"Stack{service.title()}", actions, where[service]))
    statements.append(
        _allow("DescribeLogGroups", ["logs:DescribeLogGroups"], ["*"])  # lists are unscoped
    )
    return {"Version": "2012-10-17", "Statement": statements}


def _actions(service: str) -> list[str]:
    return sorted({action for action in CALLS.values() if action.startswith(f"{service}:")})


def _allow(sid: str, actions: Sequence[str], resources: Sequence[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": list(resources)}
