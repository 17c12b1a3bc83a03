"""``bucketsync deploy`` against the emulator's CloudFormation, checked resource by resource
through each service's own API (``destroy``: ``test_destroy.py``).

The emulator reports CREATE_COMPLETE even for resource types it skips or properties it drops,
so nothing here trusts the stack's status: every resource is asked for by its service (SQS,
DynamoDB, Lambda, IAM, CloudWatch Logs, S3). What moto 5.2.5's CloudFormation drops (the queue
policy, the tables' TTL, point-in-time recovery and SSE, the alarms, the function's arm64) is
checked in the template the stack holds, and each such check says so.
"""

from __future__ import annotations

import ast
import json
from typing import Any

import pytest
from tests.conftest import MOTO_ACCOUNT_ID
from tests.integration.deploying import PREFIX, Deploying, other_entry
from typer.testing import Result

from bucketsync.deploy.stack import artifacts_bucket, notification_id


@pytest.fixture
def deployed(deploying: Deploying) -> tuple[Deploying, Result]:
    """Deployed onto a bucket that already holds objects and another team's notification."""
    result = deploying.deploy("--no-backfill")
    assert result.exit_code == 0, result.output
    return deploying, result


def test_deploy_says_what_it_built_what_it_costs_and_offers_the_backfill(
    deployed: tuple[Deploying, Result],
) -> None:
    deploying, result = deployed
    assert "function zip: " in result.stdout and "MB" in result.stdout
    assert "per million object changes" in result.stdout
    assert f"bucketsync --table {deploying.names.table} reconcile" in result.stdout
    # AND it warns that the error reports fall inside the notification's filter
    assert "error reports under 'uploads/errors/'" in result.stdout


def test_the_queues_encrypt_redrive_and_outwait_the_function(
    deployed: tuple[Deploying, Result],
) -> None:
    deploying, _ = deployed
    outputs = deploying.outputs()
    sqs = deploying.clients.sqs
    # The queue: encrypted, big enough for S3's events, redriving to the DLQ after 5 receives,
    # hidden for six times the function's timeout.
    queue = sqs.get_queue_attributes(QueueUrl=outputs["QueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert queue["SqsManagedSseEnabled"] == "true"
    assert int(queue["MaximumMessageSize"]) >= 65_536
    assert int(queue["VisibilityTimeout"]) >= 6 * 60
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == outputs["DeadLetterQueueArn"]
    assert int(redrive["maxReceiveCount"]) >= 5
    dlq = sqs.get_queue_attributes(QueueUrl=outputs["DeadLetterQueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert dlq["SqsManagedSseEnabled"] == "true"
    assert int(dlq["MessageRetentionPeriod"]) == 1_209_600
    # The catalog table and the routed rows' table: on demand, keyed as the sinks expect.
    dynamodb = deploying.clients.dynamodb
    for table in (deploying.names.table, deploying.rows_table):
        described = dynamodb.describe_table(TableName=table)["Table"]
        assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert {k["AttributeName"] for k in described["KeySchema"]} == {"pk", "sk"}
    assert outputs["TableName"] == deploying.names.table


def test_the_function_and_its_mapping_are_as_the_template_says(
    deployed: tuple[Deploying, Result],
) -> None:
    deploying, _ = deployed
    outputs = deploying.outputs()
    # The function: the current Python runtime, the handler, the settings its sinks need.
    lam = deploying.client("lambda")
    function = lam.get_function_configuration(FunctionName=outputs["FunctionName"])
    assert function["Runtime"] == "python3.13"
    assert function["Handler"] == "bucketsync.runtimes.lambda_handler.handler"
    assert function["MemorySize"] == 256 and function["Timeout"] == 60
    variables = function["Environment"]["Variables"]
    assert variables["BUCKETSYNC_TABLE"] == deploying.names.table
    assert variables["BUCKETSYNC_WRITE_MODE"] == "single"  # the cheaper write mode
    assert json.loads(variables["BUCKETSYNC_ROUTES"])[0]["table"] == deploying.rows_table
    # Its code is the zip deploy uploaded, by content.
    code = lam.get_function(FunctionName=outputs["FunctionName"])
    assert code["Configuration"]["CodeSize"] == deploying.zip_path.stat().st_size
    # The mapping: from the queue, partial batch responses, batch size, maximum concurrency.
    (mapping,) = lam.list_event_source_mappings(FunctionName=outputs["FunctionName"])[
        "EventSourceMappings"
    ]
    assert mapping["EventSourceArn"] == outputs["QueueArn"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == 10


def test_the_role_grants_least_privilege_on_the_stack_s_own_resources(
    deployed: tuple[Deploying, Result],
) -> None:
    deploying, _ = deployed
    outputs = deploying.outputs()
    function = deploying.client("lambda").get_function_configuration(
        FunctionName=outputs["FunctionName"]
    )
    # The role: assumed by Lambda; its statements are exactly the computed least privilege.
    role_name = function["Role"].rsplit("/", 1)[-1]
    iam = deploying.client("iam")
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    if isinstance(document, str):
        # moto's CloudFormation stores an inline policy as the repr of a Python dict, which
        # GetRolePolicy hands back as text (AWS returns URL-encoded JSON, which boto3 parses).
        document = ast.literal_eval(document)
    granted = granted_actions(document)
    bucket_arn = f"arn:aws:s3:::{deploying.bucket}"
    table_arn = f"arn:aws:dynamodb:us-east-1:{MOTO_ACCOUNT_ID}:table/{deploying.names.table}"
    assert granted[f"{bucket_arn}/*"] == {"s3:GetObject"}
    assert granted[bucket_arn] == {"s3:ListBucket"}
    assert granted[table_arn] == {"dynamodb:PutItem"}
    assert granted[f"{bucket_arn}/uploads/errors/*"] == {"s3:PutObject"}
    assert "dynamodb:TransactWriteItems" not in set().union(*granted.values())
    assert not any(action.endswith(":*") for actions in granted.values() for action in actions)


def test_logs_artifacts_and_the_merged_notification(deployed: tuple[Deploying, Result]) -> None:
    deploying, _ = deployed
    outputs = deploying.outputs()
    # The log group, with its retention.
    (group,) = deploying.client("logs").describe_log_groups(
        logGroupNamePrefix=outputs["LogGroupName"]
    )["logGroups"]
    assert group["retentionInDays"] == 30
    # The artifacts bucket holding the code: private and encrypted.
    artifacts = artifacts_bucket(MOTO_ACCOUNT_ID, "us-east-1")
    block = deploying.clients.s3.get_public_access_block(Bucket=artifacts)
    assert all(block["PublicAccessBlockConfiguration"].values())
    assert deploying.clients.s3.get_bucket_encryption(Bucket=artifacts)[
        "ServerSideEncryptionConfiguration"
    ]["Rules"]
    # The notification: bucketsync's entry merged in, the other team's left exactly as it was.
    config = deploying.notification()
    ours = [q for q in config["QueueConfigurations"] if q["Id"] == notification_id(deploying.stack)]
    assert [q["QueueArn"] for q in ours] == [outputs["QueueArn"]]
    rules = ours[0]["Filter"]["Key"]["FilterRules"]
    assert [(r["Name"].lower(), r["Value"]) for r in rules] == [("prefix", PREFIX)]
    assert other_entry(config)[0]["QueueArn"] == deploying.other_queue_arn


def granted_actions(document: dict[str, Any]) -> dict[str, set[str]]:
    """Resource ARN → the actions the policy allows on it."""
    out: dict[str, set[str]] = {}
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            out.setdefault(resource, set()).update(
                [actions] if isinstance(actions, str) else actions
            )
    return out


def test_what_the_emulator_drops_is_checked_in_the_stack_s_template(deploying: Deploying) -> None:
    assert deploying.deploy("--no-backfill").exit_code == 0
    resources = deploying.template()["Resources"]
    dynamodb = deploying.clients.dynamodb
    # moto's CloudFormation drops a table's TTL, PITR and SSE (describe_time_to_live says
    # DISABLED): the template the stack holds must carry them.
    assert dynamodb.describe_time_to_live(TableName=deploying.names.table)
    for name in ("CatalogTable", "RecordsTable1"):
        properties = resources[name]["Properties"]
        assert properties["TimeToLiveSpecification"] == {
            "AttributeName": "expires_at",
            "Enabled": True,
        }
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert properties["SSESpecification"]["SSEEnabled"]
    # It skips AWS::SQS::QueuePolicy: the policy admits only this bucket (by name) and account.
    statement = resources["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{deploying.bucket}"
    }
    assert statement["Condition"]["StringEquals"] == {
        "aws:SourceAccount": {"Ref": "AWS::AccountId"}
    }
    # It skips AWS::CloudWatch::Alarm (describe_alarms is empty): three alarms in the template.
    assert deploying.client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    alarms = {
        name: r["Properties"]
        for name, r in resources.items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert {a["MetricName"] for a in alarms.values()} == {
        "ApproximateNumberOfMessagesVisible",
        "Errors",
        "ApproximateAgeOfOldestMessage",
    }
    assert alarms["OldestMessageAlarm"]["Threshold"] == 900
    # It reports every function as x86_64: arm64 is in the template.
    assert resources["Function"]["Properties"]["Architectures"] == ["arm64"]


def test_a_redeploy_updates_the_stack_in_place(deploying: Deploying) -> None:
    assert deploying.deploy("--no-backfill").exit_code == 0
    before = deploying.outputs()
    # WHEN deploying again with more memory for the function
    result = deploying.deploy("--no-backfill", "-p", "FunctionMemory=512")
    # THEN the same stack is updated: the function has the memory, the queues are the same
    assert result.exit_code == 0, result.output
    assert "updating" in result.stdout
    lam = deploying.client("lambda")
    assert lam.get_function_configuration(FunctionName=before["FunctionName"])["MemorySize"] == 512
    assert deploying.outputs()["QueueArn"] == before["QueueArn"]
    assert (
        len(
            lam.list_event_source_mappings(FunctionName=before["FunctionName"])[
                "EventSourceMappings"
            ]
        )
        == 1
    )
    # AND the notification still has one bucketsync entry, the other team's beside it
    config = deploying.notification()
    assert [q["Id"] for q in config["QueueConfigurations"]].count(
        notification_id(deploying.stack)
    ) == 1
    assert len(other_entry(config)) == 1


def test_an_overlapping_notification_is_refused_before_anything_is_made(
    deploying: Deploying,
) -> None:
    # GIVEN another notification on the same events for keys under "up"
    config = deploying.notification()
    config["QueueConfigurations"][0]["Filter"] = {
        "Key": {"FilterRules": [{"Name": "prefix", "Value": "up"}]}
    }
    deploying.clients.s3.put_bucket_notification_configuration(
        Bucket=deploying.bucket,
        NotificationConfiguration=config,  # type: ignore[arg-type]
    )
    # WHEN deploying with prefix uploads/
    result = deploying.deploy("--no-backfill")
    # THEN it is refused with the clash named, and no stack was created
    assert result.exit_code != 0
    assert "another-team" in str(result.exception) or "another-team" in result.output
    with pytest.raises(Exception, match="does not exist"):
        deploying.cfn.describe_stacks(StackName=deploying.stack)
    assert deploying.notification()["QueueConfigurations"] == config["QueueConfigurations"]


def test_a_dry_run_prints_the_change_set_and_changes_nothing(deploying: Deploying) -> None:
    before = deploying.notification()
    result = deploying.deploy("--dry-run")
    assert result.exit_code == 0, result.output
    for resource in ("Queue", "DeadLetterQueue", "CatalogTable", "Function", "EventSourceMapping"):
        assert resource in result.stdout
    with pytest.raises(Exception, match="does not exist"):
        deploying.cfn.describe_stacks(StackName=deploying.stack)
    assert deploying.notification() == before
    with pytest.raises(Exception, match="ResourceNotFound"):
        deploying.clients.dynamodb.describe_table(TableName=deploying.names.table)


def test_the_mirror_shape_forwards_with_a_secret_it_reads_from_ssm(deploying: Deploying) -> None:
    ssm = deploying.client("ssm")
    secret = f"/bucketsync/{deploying.names.table}/hmac"

    def deploy_mirror() -> Result:
        return deploying.cli(
            "deploy",
            deploying.bucket,
            "--shape",
            "mirror",
            "--package",
            str(deploying.zip_path),
            "--prefix",
            PREFIX,
            "-p",
            "ApiEndpoint=https://sync.example.com/base",
            "-p",
            f"SecretParameterName={secret}",
            "--no-backfill",
        )

    # A secret that is not stored, or stored in plain text, is refused before anything is made
    missing_secret = deploy_mirror()
    assert missing_secret.exit_code != 0
    assert "no SSM parameter" in str(missing_secret.exception)
    ssm.put_parameter(Name=secret, Value="s3cret-value", Type="String")
    plain = deploy_mirror()
    assert "stored in plain text" in str(plain.exception)
    with pytest.raises(Exception, match="does not exist"):
        deploying.cfn.describe_stacks(StackName=deploying.stack)
    ssm.put_parameter(Name=secret, Value="s3cret-value", Type="SecureString", Overwrite=True)
    # WHEN deploying the mirror shape with the secret stored as a SecureString
    result = deploy_mirror()
    assert result.exit_code == 0, result.output
    outputs = deploying.outputs()
    # THEN the forwarder runs with the endpoint and the parameter's name, never the secret
    function = deploying.client("lambda").get_function_configuration(
        FunctionName=outputs["FunctionName"]
    )
    assert function["Handler"] == "bucketsync.runtimes.forwarder.handler"
    variables = function["Environment"]["Variables"]
    assert variables["API_ENDPOINT"] == "https://sync.example.com/base"
    assert variables["BUCKETSYNC_HMAC_SECRET_PARAMETER"] == secret
    assert "s3cret-value" not in json.dumps(variables)
    # AND its role may read that one parameter (the ARN of a hierarchical name has one slash)
    iam = deploying.client("iam")
    role = function["Role"].rsplit("/", 1)[-1]
    (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    if isinstance(document, str):
        document = ast.literal_eval(document)  # moto: a Python repr (see above)
    granted = granted_actions(document)
    assert granted[f"arn:aws:ssm:us-east-1:{MOTO_ACCOUNT_ID}:parameter{secret}"] == {
        "ssm:GetParameter"
    }
    assert not any(a.startswith(("dynamodb:", "s3:")) for v in granted.values() for a in v)
    # AND no table was made; destroy leaves nothing
    assert "TableName" not in outputs
    destroyed = deploying.cli("destroy", deploying.bucket)
    assert destroyed.exit_code == 0, destroyed.output
    assert "nothing of it remains" in destroyed.stdout
