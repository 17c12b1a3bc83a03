"""The CloudFormation template, rendered from code: what it holds, and the checks beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bucketsync.deploy.parameters import check, defaults
from bucketsync.deploy.render import EXAMPLE_ROUTES, renderings, text
from bucketsync.deploy.template import render
from bucketsync.record_routes import parse_routes

DEPLOY = Path(__file__).parents[2] / "deploy" / "cloudformation"


def resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_the_files_in_deploy_are_the_code_s_renderings() -> None:
    # The linters and readers see deploy/cloudformation; the code is what deploys.
    for name, template in renderings().items():
        assert (DEPLOY / name).read_text(encoding="utf-8") == text(template), (
            f"{name} is stale: run python -m bucketsync.deploy.render"
        )


MIRROR_INPUTS = {"ApiEndpoint": "https://sync.example.com", "SecretParameterName": "/s/hmac"}


@pytest.mark.parametrize("shape", ["catalog", "mirror"])
def test_the_defaults_pass_the_cross_resource_checks(shape: str) -> None:
    given = MIRROR_INPUTS if shape == "mirror" else {}
    assert check({**defaults(shape), "BucketName": "my-bucket", **given}) == []


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"ApiEndpoint": "http://sync.example.com"}, "https://"),
        ({"ApiEndpoint": ""}, "https://"),
        ({"SecretParameterName": ""}, "an empty secret is no secret"),
    ],
)
def test_the_mirror_needs_an_https_endpoint_and_a_stored_secret(
    changes: dict[str, str], complaint: str
) -> None:
    problems = check({**defaults("mirror"), "BucketName": "b", **MIRROR_INPUTS, **changes})
    assert len(problems) == 1 and complaint in problems[0], problems


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"FunctionTimeout": "120"}, "six times"),
        ({"BatchSize": "50"}, "batching window"),
        ({"MaxReceiveCount": "3"}, "dead-letter"),
        ({"ReservedConcurrency": "5", "MaximumConcurrency": "10"}, "throttled"),
        ({"MaximumConcurrency": "1"}, "2-1000"),
        ({"BucketName": ""}, "required"),
    ],
)
def test_the_checks_catch_what_cfn_lint_cannot(changes: dict[str, str], complaint: str) -> None:
    values = {**defaults("catalog"), "BucketName": "my-bucket", **changes}
    problems = check(values)
    assert len(problems) == 1 and complaint in problems[0], problems


def test_the_queue_redrives_and_takes_s3_s_largest_events() -> None:
    queue = render()["Resources"]["Queue"]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    assert queue["MaximumMessageSize"] >= 64 * 1024
    assert queue["SqsManagedSseEnabled"] is True
    policy = render()["Resources"]["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    # By the bucket's name and the account: no reference to the bucket resource, no cycle.
    assert policy["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}"
    }
    assert policy["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_the_function_reports_partial_batch_failures_on_arm64() -> None:
    template = render()
    function = template["Resources"]["Function"]["Properties"]
    mapping = template["Resources"]["EventSourceMapping"]["Properties"]
    assert (function["Runtime"], function["Architectures"]) == ("python3.13", ["arm64"])
    assert function["Handler"] == "bucketsync.runtimes.lambda_handler.handler"
    assert function["Environment"]["Variables"]["BUCKETSYNC_WRITE_MODE"] == {"Ref": "WriteMode"}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "MaximumConcurrency"}}
    assert template["Parameters"]["WriteMode"]["Default"] == "single"  # 1 write unit per item


def test_the_catalog_table_has_ttl_recovery_and_encryption() -> None:
    table = render()["Resources"]["CatalogTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["bucketsync-manifests"]


def statement_map(template: dict[str, Any]) -> dict[str, Any]:
    role = template["Resources"]["FunctionRole"]["Properties"]
    return {s["Sid"]: s for s in role["Policies"][0]["PolicyDocument"]["Statement"]}


def test_the_role_grants_only_what_the_code_calls_on_the_stack_s_resources() -> None:
    statements = statement_map(render())
    assert set(statements) == {"Logs", "Queue", "Objects", "Listing", "Catalog"}
    assert statements["Catalog"]["Action"] == "dynamodb:PutItem"
    assert statements["Objects"]["Action"] == "s3:GetObject"
    for statement in statements.values():
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] != "*", statement  # never every resource
        assert not any(str(a).endswith(":*") for a in _list(statement["Action"])), statement


def test_routes_bring_their_tables_and_only_their_permissions() -> None:
    routes = parse_routes(EXAMPLE_ROUTES)
    template = render("catalog", routes)
    tables = resources(template, "AWS::DynamoDB::Table")
    # A rule keyed by its own fields writes into the user's table: not made, but granted.
    assert sorted(tables) == ["CatalogTable", "RecordsTable1"]
    assert tables["RecordsTable1"]["Properties"]["TableName"] == "orders"
    statements = statement_map(template)
    assert {"Rows", "Manifests", "ErrorReports"} <= set(statements)
    assert statements["ErrorReports"]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/errors/*"}
    ]
    assert json.loads(template["Parameters"]["Routes"]["Default"])[0]["table"] == "orders"


def test_the_mirror_shape_forwards_with_a_secret_from_ssm() -> None:
    template = render("mirror")
    assert resources(template, "AWS::DynamoDB::Table") == {}
    function = template["Resources"]["Function"]["Properties"]
    assert function["Handler"] == "bucketsync.runtimes.forwarder.handler"
    variables = function["Environment"]["Variables"]
    assert "BUCKETSYNC_HMAC_SECRET" not in variables  # never a plain environment value
    assert variables["BUCKETSYNC_HMAC_SECRET_PARAMETER"] == {"Ref": "SecretParameterName"}
    assert statement_map(template)["Secret"]["Action"] == "ssm:GetParameter"


def test_a_bucket_the_stack_makes_is_private_encrypted_and_tls_only() -> None:
    template = render()
    bucket = template["Resources"]["Bucket"]
    assert bucket["Condition"] == "CreateBucket"
    block = bucket["Properties"]["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    assert bucket["Properties"]["BucketEncryption"]
    deny = template["Resources"]["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
