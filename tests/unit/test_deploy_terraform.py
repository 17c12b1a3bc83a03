"""The Terraform module in ``deploy/terraform``, held to the CloudFormation template from code.

No terraform binary runs here (``terraform init`` needs the provider registry), so the module is
read as data: every ``.tf`` file is parsed with python-hcl2 (``terraform_module.py``) and
compared with ``render()`` for the same shape, the plain catalog and the catalog with
``EXAMPLE_ROUTES``. ``differences`` (``terraform_parity.py``) is the parity check: a parameter,
output or resource added to the template and not to the module, or a statement of the role the
module lacks, is a difference (a test feeds it such a template).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from bucketsync.deploy.notification import EVENTS
from bucketsync.deploy.parameters import check, defaults
from bucketsync.deploy.template import render
from bucketsync.record_routes import parse_routes
from tests.unit.terraform_module import (
    MODULE,
    blocks,
    compact,
    condition_holds,
    listed,
    module,
    obj,
    parse,
    snake,
    unwrap,
)
from tests.unit.terraform_parity import (
    SHAPES,
    differences,
    module_statements,
    shape,
    template_statements,
)

# --- The tests ------------------------------------------------------------------------------


def test_every_file_of_the_module_parses() -> None:
    files = sorted(MODULE.glob("*.tf"))
    assert {p.name for p in files} >= {"main.tf", "variables.tf", "outputs.tf", "versions.tf"}
    for path in files:
        try:
            parse(path)
        except Exception as exc:
            pytest.fail(f"{path.name} does not parse: {exc}")


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_the_module_makes_what_the_template_makes(name: str) -> None:
    # GIVEN the template rendered from code, and the module's inputs for the same shape
    given = shape(name)
    # WHEN they are compared  THEN parameters, outputs, resources, role and alarms agree
    problems = differences(given.template, given.inputs)
    assert not problems, "\n".join(problems)


def test_the_parity_check_fails_on_a_template_ahead_of_the_module() -> None:
    # GIVEN a template with a parameter, an output, a resource of a new type, one more alarm
    # and one more action than the module
    given = shape("catalog")
    template = copy.deepcopy(given.template)
    template["Parameters"]["RetryLimit"] = {"Type": "Number", "Default": "3"}
    template["Outputs"]["TopicArn"] = {"Value": {"Ref": "Topic"}}
    template["Resources"]["Topic"] = {"Type": "AWS::SNS::Topic", "Properties": {}}
    throttles = copy.deepcopy(template["Resources"]["FunctionErrorsAlarm"])
    throttles["Properties"]["MetricName"] = "Throttles"
    template["Resources"]["ThrottlesAlarm"] = throttles
    role = template["Resources"]["FunctionRole"]["Properties"]["Policies"][0]
    role["PolicyDocument"]["Statement"][0]["Action"].append("logs:CreateLogGroup")
    # WHEN they are compared
    problems = "\n".join(differences(template, given.inputs))
    # THEN each of them is a difference
    for seen in ("RetryLimit", "topic_arn", "AWS::SNS::Topic", "the template makes 4"):
        assert seen in problems, problems
    assert "Throttles" in problems and "logs:CreateLogGroup" in problems, problems


def test_the_role_has_the_template_s_statements_with_and_without_rules() -> None:
    for name in SHAPES:
        given = shape(name)
        assert module_statements(given.routes) == template_statements(given.template), name
    # Each optional statement on its own, as permissions.py grants it.
    for rules in (
        '[{"match": "a/*", "table": "rows"}]',
        '[{"match": "a/*", "table": "rows", "key": ["id"]}]',
        '[{"match": "a/*", "table": "rows", "errors_prefix": "bad/"}]',
    ):
        routes = parse_routes(rules)
        assert module_statements(routes) == template_statements(render("catalog", routes)), rules


def test_the_log_statement_covers_the_group_s_streams() -> None:
    # The provider's aws_cloudwatch_log_group.arn has no ":*" (CloudFormation's Arn has).
    logs = next(
        s
        for s in blocks(module().datum("aws_iam_policy_document", "function"), "statement")
        if s["sid"] == "Logs"
    )
    assert listed(logs["resources"]) == ["${aws_cloudwatch_log_group.function.arn}:*"]


def test_the_records_tables_are_held_to_the_routes_rules() -> None:
    # for_each needs records_tables; the function's precondition holds them to the rules
    # without a key (the tables the template makes). jsondecode is beyond `evaluate`: the
    # test reads the condition, it does not run it.
    sync = module().resource("aws_lambda_function", "sync")
    [lifecycle] = blocks(sync, "lifecycle")
    conditions = [compact(p["condition"]) for p in blocks(lifecycle, "precondition")]
    assert any(
        "setsubtract(local.owned_tables,var.records_tables)" in c
        and "setsubtract(var.records_tables,local.owned_tables)" in c
        for c in conditions
    ), conditions


def test_the_cross_resource_checks_are_preconditions_or_validations() -> None:
    mod = module()
    conditions = [
        v["condition"] for var in mod.variables.values() for v in blocks(var, "validation")
    ]
    for block in mod.resources:
        for lifecycle in blocks(block.body, "lifecycle"):
            conditions += [p["condition"] for p in blocks(lifecycle, "precondition")]
    base = {**defaults("catalog"), "BucketName": "my-bucket"}
    # The cases of test_deploy_template: each breaks one rule of parameters.check.
    for changes in (
        {},
        {"FunctionTimeout": "120"},
        {"BatchSize": "50"},
        {"MaxReceiveCount": "3"},
        {"ReservedConcurrency": "5", "MaximumConcurrency": "10"},
        {"MaximumConcurrency": "1"},
        {"QueueVisibilityTimeout": "600", "FunctionTimeout": "100"},
        {"BatchSize": "50", "BatchingWindowSeconds": "1"},
    ):
        values = {**base, **changes}
        names: dict[str, Any] = {}
        for key, value in values.items():
            kind = unwrap(mod.variables[snake(key)].get("type", ""))
            typed = int(value) if kind == "number" else value == "true" if kind == "bool" else value
            names[f"var.{snake(key)}"] = typed
        failing = [c for c in conditions if condition_holds(c, names) is False]
        assert len(failing) == len(check(values)), (changes, failing, check(values))


def test_the_function_queue_and_mapping_are_configured_as_in_the_template() -> None:
    resources = render()["Resources"]
    mod = module()

    def same(cfn: Any, terraform: Any) -> bool:
        if isinstance(cfn, dict) and "Ref" in cfn:
            return unwrap(terraform) == f"var.{snake(cfn['Ref'])}"
        return [str(c) for c in listed(cfn)] == [unwrap(t) for t in listed(terraform)]

    function = resources["Function"]["Properties"]
    sync = mod.resource("aws_lambda_function", "sync")
    for cfn, terraform in (
        (function["Runtime"], sync["runtime"]),
        (function["Architectures"], sync["architectures"]),
        (function["Handler"], sync["handler"]),
        (function["Code"]["S3Bucket"], sync["s3_bucket"]),
        (function["Code"]["S3Key"], sync["s3_key"]),
        (function["MemorySize"], sync["memory_size"]),
        (function["Timeout"], sync["timeout"]),
    ):
        assert same(cfn, terraform), (cfn, terraform)
    assert unwrap(sync["reserved_concurrent_executions"]) == "var.reserved_concurrency"
    variables = obj(obj(sync["environment"])["variables"])
    assert set(variables) == set(function["Environment"]["Variables"])
    assert (
        variables["BUCKETSYNC_LOG_FORMAT"]
        == function["Environment"]["Variables"]["BUCKETSYNC_LOG_FORMAT"]
    )
    for logical, name in (("Queue", "queue"), ("DeadLetterQueue", "dead_letters")):
        cfn, queue = resources[logical]["Properties"], mod.resource("aws_sqs_queue", name)
        assert same(cfn["MessageRetentionPeriod"], queue["message_retention_seconds"])
        assert queue["sqs_managed_sse_enabled"] is cfn["SqsManagedSseEnabled"] is True
    queue = mod.resource("aws_sqs_queue", "queue")
    assert same(
        resources["Queue"]["Properties"]["VisibilityTimeout"], queue["visibility_timeout_seconds"]
    )
    assert same(resources["Queue"]["Properties"]["MaximumMessageSize"], queue["max_message_size"])
    redrive = compact(queue["redrive_policy"]).replace("${", "").replace("}", "").replace('"', "")
    for part in (
        r"deadLetterTargetArn[=:]aws_sqs_queue\.dead_letters\.arn",
        r"maxReceiveCount[=:]var\.max_receive_count",
    ):
        assert re.search(part, redrive), redrive
    cfn_mapping = resources["EventSourceMapping"]["Properties"]
    mapping = mod.resource("aws_lambda_event_source_mapping", "queue")
    assert same(cfn_mapping["BatchSize"], mapping["batch_size"])
    assert same(
        cfn_mapping["MaximumBatchingWindowInSeconds"], mapping["maximum_batching_window_in_seconds"]
    )
    assert same(cfn_mapping["FunctionResponseTypes"], mapping["function_response_types"])
    assert same(
        cfn_mapping["ScalingConfig"]["MaximumConcurrency"],
        obj(mapping["scaling_config"])["maximum_concurrency"],
    )
    log_group = mod.resource("aws_cloudwatch_log_group", "function")
    assert same(
        resources["LogGroup"]["Properties"]["RetentionInDays"], log_group["retention_in_days"]
    )


@pytest.mark.parametrize("name", ["catalog", "records"])
def test_the_tables_have_the_template_s_layout(name: str) -> None:
    cfn = render()["Resources"]["CatalogTable"]["Properties"]
    table = module().resource("aws_dynamodb_table", name)
    assert table["billing_mode"] == cfn["BillingMode"]
    assert {(a["name"], a["type"]) for a in blocks(table, "attribute")} == {
        (a["AttributeName"], a["AttributeType"]) for a in cfn["AttributeDefinitions"]
    }
    keys = {k["KeyType"]: k["AttributeName"] for k in cfn["KeySchema"]}
    assert (table["hash_key"], table["range_key"]) == (keys["HASH"], keys["RANGE"])
    [index] = cfn["GlobalSecondaryIndexes"]
    [gsi] = blocks(table, "global_secondary_index")
    index_keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
    assert (gsi["name"], gsi["hash_key"], gsi["range_key"]) == (
        index["IndexName"],
        index_keys["HASH"],
        index_keys["RANGE"],
    )
    assert gsi["projection_type"] == index["Projection"]["ProjectionType"]
    assert listed(gsi["non_key_attributes"]) == index["Projection"]["NonKeyAttributes"]
    ttl = obj(table["ttl"])
    assert (ttl["attribute_name"], ttl["enabled"]) == (
        cfn["TimeToLiveSpecification"]["AttributeName"],
        cfn["TimeToLiveSpecification"]["Enabled"],
    )
    assert obj(table["point_in_time_recovery"])["enabled"] is True
    assert obj(table["server_side_encryption"])["enabled"] is True
    assert table.get("deletion_protection_enabled", False) is False


def test_the_queue_policy_names_the_bucket_by_name_and_the_account() -> None:
    [cfn] = render()["Resources"]["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [statement] = blocks(module().datum("aws_iam_policy_document", "queue"), "statement")
    [principal] = blocks(statement, "principals")
    assert listed(principal["identifiers"]) == [cfn["Principal"]["Service"]]
    assert listed(statement["actions"]) == [cfn["Action"]]
    conditions = {
        (c["test"], c["variable"]): listed(c["values"]) for c in blocks(statement, "condition")
    }
    assert set(conditions) == {
        (test, key) for test, keys in cfn["Condition"].items() for key in keys
    }
    assert conditions["StringEquals", "aws:SourceAccount"] == [
        "${data.aws_caller_identity.current.account_id}"
    ]
    # No reference to the bucket resource: no cycle with the notification.
    assert conditions["ArnLike", "aws:SourceArn"] == ["${local.bucket_arn}"]
    assert compact(module().locals["bucket_arn"]) == (
        "arn:${data.aws_partition.current.partition}:s3:::${var.bucket_name}"
    )


def test_the_notification_is_opt_in_and_says_it_replaces_the_bucket_s_others() -> None:
    mod = module()
    notification = mod.resource("aws_s3_bucket_notification", "this")
    assert compact(notification["count"]) == "var.manage_notification?1:0"
    assert mod.variables["manage_notification"]["default"] is False
    assert "REPLACES" in mod.variables["manage_notification"]["description"]
    readme = (MODULE / "README.md").read_text(encoding="utf-8")
    prose = " ".join(" ".join(line.lstrip("> ") for line in readme.splitlines()).split())
    assert "replaces the bucket's whole notification configuration" in prose.lower()
    [queue] = blocks(notification, "queue")
    assert listed(queue["events"]) == list(EVENTS)


def test_state_is_local_and_the_destroy_leaves_nothing() -> None:
    mod = module()
    assert all("backend" not in t and "cloud" not in t for t in mod.terraform)
    for block in mod.resources:
        for lifecycle in blocks(block.body, "lifecycle"):
            assert lifecycle.get("prevent_destroy") in (None, False), block
        assert block.body.get("skip_destroy") in (None, False), block
        assert block.body.get("deletion_protection_enabled") in (None, False), block
        if "force_destroy" in block.body:  # only a bucket the module made, only when asked
            assert (block.kind, unwrap(block.body["force_destroy"])) == (
                "aws_s3_bucket",
                "var.force_destroy",
            )
    assert mod.variables["force_destroy"]["default"] is False


def test_every_checkov_skip_has_a_reason_and_the_template_s_where_it_has_one() -> None:
    skips = re.findall(r"#\s*checkov:skip=(CKV2?_AWS_\d+):(.*)", module().text)
    assert skips
    theirs: dict[str, str] = {}
    for name in SHAPES:
        for resource in shape(name).template["Resources"].values():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                theirs[skip["id"]] = skip["comment"]
    parameters = sorted(render()["Parameters"], key=len, reverse=True)
    for check_id, reason in skips:
        assert reason.strip(), check_id
        if check_id in theirs:
            expected = theirs[check_id].replace(" parameter", " variable")
            for parameter in parameters:
                expected = re.sub(rf"\b{parameter}\b", snake(parameter), expected)
            assert reason.strip() == expected, check_id
