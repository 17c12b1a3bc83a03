"""``bucketsync destroy`` against the emulator, after a ``bucketsync deploy``: nothing of the
stack remains, as each service's own API says (function, mapping, queues, tables, role, log
group, the code in the artifacts bucket), while the bucket keeps its objects and another
team's notification exactly; a bucket the stack made goes only with ``--yes``.

moto 5.2.5's CloudFormation drops a made bucket's versioning, public access block, policy and
ownership controls: those are checked in the template the stack holds, and the check says so.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import MOTO_ACCOUNT_ID
from tests.integration.deploying import EXISTING, Deploying, other_entry

from bucketsync.aws.clients import Clients
from bucketsync.deploy import package
from bucketsync.deploy.stack import artifacts_bucket
from bucketsync.local.stack import StackNames
from bucketsync.settings import Settings


def test_destroy_leaves_nothing_of_the_stack_and_the_other_notification_intact(
    deploying: Deploying,
) -> None:
    assert deploying.deploy("--no-backfill").exit_code == 0
    before = deploying.notification()
    held = deploying.cfn.list_stack_resources(StackName=deploying.stack)["StackResourceSummaries"]
    physical = {r["ResourceType"]: r["PhysicalResourceId"] for r in held if r["LogicalResourceId"]}
    outputs = deploying.outputs()
    # WHEN destroying
    result = deploying.cli("destroy", deploying.bucket)
    # THEN it reports having checked that nothing remains
    assert result.exit_code == 0, result.output
    assert "nothing of it remains" in result.stdout
    # AND each service confirms it: no function, mapping, queue, table, role or log group
    gone = missing(deploying)
    gone("lambda", lambda c: c.get_function(FunctionName=outputs["FunctionName"]))
    gone(
        "lambda",
        lambda c: c.get_event_source_mapping(UUID=physical["AWS::Lambda::EventSourceMapping"]),
    )
    for url in (outputs["QueueUrl"], outputs["DeadLetterQueueUrl"]):
        gone("sqs", partial(get_queue, url))
    for table in (deploying.names.table, deploying.rows_table):
        gone("dynamodb", partial(describe_table, table))
    gone("iam", lambda c: c.get_role(RoleName=physical["AWS::IAM::Role"]))
    groups = deploying.client("logs").describe_log_groups(
        logGroupNamePrefix=outputs["LogGroupName"]
    )["logGroups"]
    assert groups == []
    with pytest.raises(Exception, match="does not exist"):
        deploying.cfn.describe_stacks(StackName=deploying.stack)
    # AND the code is gone from the artifacts bucket
    artifacts = artifacts_bucket(MOTO_ACCOUNT_ID, "us-east-1")
    s3 = deploying.clients.s3
    if deploying.clients.s3.list_buckets()["Buckets"] and any(
        b["Name"] == artifacts for b in s3.list_buckets()["Buckets"]
    ):
        left = s3.list_objects_v2(Bucket=artifacts, Prefix=f"{deploying.stack}/")
        assert left.get("KeyCount", 0) == 0
    # AND the bucket keeps its objects and the other team's notification, exactly
    after = deploying.notification()
    assert after["QueueConfigurations"] == other_entry(before)
    listed = s3.list_objects_v2(Bucket=deploying.bucket)["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(EXISTING)


def get_queue(url: str, sqs: Any) -> Any:
    return sqs.get_queue_attributes(QueueUrl=url)


def describe_table(table: str, dynamodb: Any) -> Any:
    return dynamodb.describe_table(TableName=table)


def missing(deploying: Deploying) -> Callable[[str, Callable[[Any], Any]], None]:
    def check(service: str, call: Callable[[Any], Any]) -> None:
        with pytest.raises(Exception) as raised:
            call(deploying.client(service))
        code = getattr(raised.value, "response", {}).get("Error", {}).get("Code", "")
        assert code in {
            "ResourceNotFoundException",
            "NoSuchEntity",
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        }, raised.value

    return check


@pytest.mark.parametrize("yes", [True, False])
def test_a_bucket_the_stack_made_goes_only_with_yes(
    settings: Settings,
    clients: Clients,
    names: StackNames,
    function_zip: package.Built,
    yes: bool,
) -> None:
    deploying = Deploying(settings, clients, names, function_zip.path, Path("/dev/null"), "")
    result = deploying.cli(
        "deploy",
        names.bucket,
        "--create-bucket",
        "--versioning",
        "--package",
        str(function_zip.path),
        "-p",
        f"TableName={names.table}",
        "--no-backfill",
    )
    assert result.exit_code == 0, result.output
    # moto's CloudFormation applies a made bucket's encryption (checked here) but drops its
    # versioning, public access block, policy and ownership controls: those are in the template.
    s3 = clients.s3
    assert s3.get_bucket_encryption(Bucket=names.bucket)["ServerSideEncryptionConfiguration"]
    template = deploying.template()["Resources"]
    bucket = template["Bucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert template["Bucket"]["DeletionPolicy"] == "RetainExceptOnCreate"
    tls = template["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    for n in range(3):
        s3.put_object(Bucket=names.bucket, Key=f"k{n}", Body=b"v1")
        s3.put_object(Bucket=names.bucket, Key=f"k{n}", Body=b"v2")
    # WHEN destroying, with or without --yes
    result = deploying.cli("destroy", names.bucket, *(["--yes"] if yes else []))
    assert result.exit_code == 0, result.output
    # THEN with --yes the bucket is emptied and removed; without, it stays with its objects
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    if yes:
        assert names.bucket not in buckets
    else:
        assert names.bucket in buckets
        assert "kept bucket" in result.stdout
        assert s3.list_objects_v2(Bucket=names.bucket)["KeyCount"] == 3
        s3.delete_objects(
            Bucket=names.bucket,
            Delete={
                "Objects": [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in s3.list_object_versions(Bucket=names.bucket).get("Versions", [])
                ]
            },
        )
        s3.delete_bucket(Bucket=names.bucket)
