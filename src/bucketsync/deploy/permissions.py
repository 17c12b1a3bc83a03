"""The function's role, least privilege: what its own code calls, on the stack's resources only.

What each sink calls is what is granted: the catalog writes with PutItem in both write modes (a
transaction is authorised item by item, by each item's own action: IAM has no
``dynamodb:TransactWriteItems``); the records sink batches rows, claims manifests and reads them
back; the forwarder reads one SSM parameter. ``s3:GetObject`` authorises HeadObject, and
``s3:ListBucket`` turns a deleted key's 403 into the 404 the engine takes for "absent".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bucketsync.deploy.cfn import att, sub
from bucketsync.record_routes import Route


def statements(shape: str, routes: Sequence[Route]) -> list[dict[str, Any]]:
    """Least privilege: what the function's own code calls, on the stack's resources only."""
    bucket = "arn:${AWS::Partition}:s3:::${BucketName}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": att("LogGroup", "Arn"),
        },
        {
            "Sid": "Queue",
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ChangeMessageVisibility",
            ],
            "Resource": att("Queue", "Arn"),
        },
    ]
    if shape == "mirror":
        parameter = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
        statements.append(
            {
                "Sid": "Secret",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                # A hierarchical name ("/prod/secret") already begins with the ARN's slash.
                "Resource": {
                    "Fn::If": [
                        "SecretIsPath",
                        sub(f"{parameter}${{SecretParameterName}}"),
                        sub(f"{parameter}/${{SecretParameterName}}"),
                    ]
                },
            }
        )
        return statements
    table = sub(
        "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}"
    )
    statements += [
        # GetObject authorises HeadObject; ListBucket turns a deleted key's 403 into the 404
        # the engine takes for "absent".
        {
            "Sid": "Objects",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": sub(f"{bucket}/*"),
        },
        {"Sid": "Listing", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": sub(bucket)},
        # Both write modes need PutItem alone: a transaction is authorised item by item, by
        # each item's own action (IAM has no dynamodb:TransactWriteItems).
        {"Sid": "Catalog", "Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": table},
    ]
    if not routes:
        return statements
    tables = [
        sub(f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{name}")
        for name in dict.fromkeys(route.table for route in routes)
    ]
    indexes = [{"Fn::Join": ["", [t, "/index/*"]]} for t in tables]
    rows = ["dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    reads = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:DescribeTable"]
    if any(route.key for route in routes):
        reads.append("dynamodb:Scan")  # a keyed table without the file index is scanned
    statements.append(
        {"Sid": "Rows", "Effect": "Allow", "Action": rows + reads, "Resource": tables + indexes}
    )
    if any(route.key for route in routes):  # keyed rows keep their manifests in the catalog
        statements.append(
            {
                "Sid": "Manifests",
                "Effect": "Allow",
                "Action": ["dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query"],
                "Resource": [table, {"Fn::Join": ["", [table, "/index/*"]]}],
            }
        )
    prefixes = sorted({route.errors_prefix for route in routes if route.errors_prefix})
    if prefixes:
        statements.append(
            {
                "Sid": "ErrorReports",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": [sub(f"{bucket}/{prefix}*") for prefix in prefixes],
            }
        )
    return statements
