"""The Terraform module beside the CloudFormation template from code, for
``test_deploy_terraform.py``: the same shapes on both sides, and where they differ.

``differences`` is the parity check: a parameter, output or resource added to the template and
not to the module, or a statement of the role the module lacks, is a difference (a test feeds
it such a template). The tables map the template's types, conditions and parameters to the
module's, and say why what has no counterpart has none.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bucketsync.deploy.render import EXAMPLE_ROUTES
from bucketsync.deploy.template import render
from bucketsync.record_routes import Route, parse_routes
from tests.unit.terraform_module import (
    Block,
    blocks,
    compact,
    condition_holds,
    evaluate,
    listed,
    module,
    snake,
    unwrap,
)

# Each CloudFormation type, and the Terraform types that together make one resource of it.
TERRAFORM_TYPES: dict[str, tuple[str, ...]] = {
    "AWS::SQS::Queue": ("aws_sqs_queue",),  # the redrive policy is an argument of the queue
    "AWS::SQS::QueuePolicy": ("aws_sqs_queue_policy",),
    "AWS::S3::Bucket": (
        "aws_s3_bucket",  # the provider splits the bucket's properties into resources
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_ownership_controls",
        "aws_s3_bucket_versioning",
    ),
    "AWS::S3::BucketPolicy": ("aws_s3_bucket_policy",),
    "AWS::DynamoDB::Table": ("aws_dynamodb_table",),
    "AWS::Logs::LogGroup": ("aws_cloudwatch_log_group",),
    "AWS::IAM::Role": ("aws_iam_role", "aws_iam_role_policy"),  # its inline policy, apart
    "AWS::Lambda::Function": ("aws_lambda_function",),
    "AWS::Lambda::EventSourceMapping": ("aws_lambda_event_source_mapping",),
    "AWS::CloudWatch::Alarm": ("aws_cloudwatch_metric_alarm",),
}
# Terraform resources without a counterpart in the template, and why.
TERRAFORM_ONLY = {
    "aws_s3_bucket_notification": (
        "opt-in (manage_notification): it replaces the bucket's whole notification "
        "configuration, so the template leaves the notification to `bucketsync deploy`"
    ),
}
# A resource's `count` reads one variable: the template's condition it stands for.
CONDITIONS = {
    "var.create_bucket": "CreateBucket",
    "var.manage_notification": "opt-in",  # not in the template at all
}
# The module's variables that are no parameter of the template, and why.
MODULE_ONLY_VARIABLES = {
    "name": "names what the stack's name names: function, role, log group, queues, alarms",
    "records_tables": (
        "the tables the template makes from Routes (RecordsTable<n>): for_each needs them "
        "as a list, and a precondition holds it equal to the routes' rules without a key"
    ),
    "force_destroy": "a made bucket is emptied by `bucketsync destroy` for the stack",
    "manage_notification": "opt-in: `bucketsync deploy` merges the notification for the stack",
    "notification_prefix": "the notification's key filter, with manage_notification",
    "notification_suffix": "the notification's key filter, with manage_notification",
    "tags": "what the stack's tags do for the resources CloudFormation makes",
}
# The locals that decide the role's optional statements, from the routing rules.
STATEMENT_FLAGS: dict[str, Callable[[Sequence[Route]], bool]] = {
    "local.has_routes": bool,
    "local.has_keyed": lambda routes: any(route.key for route in routes),
    "local.has_error_prefixes": lambda routes: any(route.errors_prefix for route in routes),
}
SHAPES = {"catalog": "", "records": EXAMPLE_ROUTES}


# --- The shapes, on both sides --------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    template: dict[str, Any]
    routes: Sequence[Route]
    inputs: dict[str, Any]  # the module's variables set for this shape


def shape(name: str) -> Shape:
    routes = parse_routes(SHAPES[name]) if SHAPES[name] else []
    template = render("catalog", routes)
    made = [
        r["Properties"]["TableName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::DynamoDB::Table" and isinstance(r["Properties"]["TableName"], str)
    ]
    # The rules as the template passes them on (its Routes default), the tables it makes.
    rules = template["Parameters"]["Routes"]["Default"]
    return Shape(template, routes, {"routes": rules, "records_tables": made})


def template_statements(template: Mapping[str, Any]) -> dict[str, tuple[str, list[str]]]:
    role = template["Resources"]["FunctionRole"]["Properties"]["Policies"][0]
    return {
        s["Sid"]: (s["Effect"], sorted(listed(s["Action"])))
        for s in role["PolicyDocument"]["Statement"]
    }


def module_statements(routes: Sequence[Route]) -> dict[str, tuple[str, list[str]]]:
    """The function's policy document for these rules: its dynamic blocks evaluated."""
    flags = {name: decide(routes) for name, decide in STATEMENT_FLAGS.items()}
    document = module().datum("aws_iam_policy_document", "function")
    chosen = list(blocks(document, "statement"))
    for dynamic in blocks(document, "dynamic"):
        for label, spec in dynamic.items():
            assert label == "statement", label
            guard = re.fullmatch(
                r"(.+?)\s*\?\s*\[\s*1\s*\]\s*:\s*\[\s*\]", unwrap(spec["for_each"])
            )
            assert guard, f"for_each should read `<flag> ? [1] : []`: {spec['for_each']}"
            if evaluate(guard.group(1), flags):
                chosen += blocks(spec, "content")
    out: dict[str, tuple[str, list[str]]] = {}
    for statement in chosen:
        assert statement["sid"] not in out, f"two statements {statement['sid']}"
        out[statement["sid"]] = (statement["effect"], sorted(listed(statement["actions"])))
    return out


def multiplicity(block: Block, inputs: Mapping[str, Any]) -> tuple[int, str | None] | str:
    """(how many, the template's condition) for a resource block, or what is not understood."""
    if "for_each" in block.body:
        if compact(block.body["for_each"]) == "toset(var.records_tables)":
            return len(inputs["records_tables"]), None
        return f"{block.kind}.{block.name}: for_each {block.body['for_each']!r} is not understood"
    if "count" in block.body:
        for variable, condition in CONDITIONS.items():
            if compact(block.body["count"]) == f"{variable}?1:0":
                return (0 if condition == "opt-in" else 1), condition
        return f"{block.kind}.{block.name}: count {block.body['count']!r} is not understood"
    return 1, None


def same_default(parameter: Mapping[str, Any], value: Any) -> bool:
    if isinstance(value, bool):
        return parameter.get("Default") == str(value).lower()
    return parameter.get("Default") == unwrap(value)


def constraint_problems(name: str, parameter: Mapping[str, Any], variable: Any) -> list[str]:
    """What the parameter constrains that the variable's type and validations do not."""
    problems: list[str] = []
    kind = unwrap(variable.get("type", ""))
    checks = [v["condition"] for v in blocks(variable, "validation")]
    allowed = parameter.get("AllowedValues", [])
    if parameter["Type"] == "Number":
        expected = "number"
    elif set(allowed) == {"true", "false"}:
        expected, allowed = "bool", []
    else:
        expected = "string"
    if kind != expected:
        problems.append(f"variable {name}: type {kind}, the parameter's is {expected}")
    if allowed:
        listing = [re.search(rf"contains\(\[(.*?)\],var\.{name}\)", compact(c)) for c in checks]
        found = [[v.strip('"') for v in m.group(1).split(",")] for m in listing if m]
        if found != [allowed]:
            problems.append(f"variable {name}: no validation allows only {allowed}: {found}")
    if "AllowedPattern" in parameter:
        pattern = parameter["AllowedPattern"]
        anchored = pattern if pattern.startswith("^") and pattern.endswith("$") else f"^{pattern}$"
        if not any(f'regex("{anchored}"' in compact(c) for c in checks):
            problems.append(f"variable {name}: no validation matches {anchored}")
    bounds = [(parameter.get("MinValue"), -1), (parameter.get("MaxValue"), 1)]
    for bound, outward in bounds:
        if bound is None:
            continue
        inside = [condition_holds(c, {f"var.{name}": bound}) for c in checks]
        outside = [condition_holds(c, {f"var.{name}": bound + outward}) for c in checks]
        if not all(inside) or not any(v is False for v in outside):
            problems.append(f"variable {name}: its validations do not bound it at {bound}")
    return problems


def differences(template: Mapping[str, Any], inputs: Mapping[str, Any]) -> list[str]:
    """Where the module and the template are out of step: parameters, outputs, resources,
    the role's statements, the alarms."""
    mod = module()
    problems: list[str] = []

    # Parameters: a variable of each one's snake_case name, with its default and constraints.
    parameters = template["Parameters"]
    for name, parameter in parameters.items():
        variable = mod.variables.get(snake(name))
        if variable is None:
            problems.append(f"parameter {name} has no variable {snake(name)}")
            continue
        value = inputs.get(snake(name), variable.get("default"))
        if "Default" not in parameter and "default" in variable:
            problems.append(f"variable {snake(name)} has a default; parameter {name} has none")
        elif "Default" in parameter and not same_default(parameter, value):
            problems.append(f"variable {snake(name)}: {value!r}, parameter {name}: {parameter}")
        problems += constraint_problems(snake(name), parameter, variable)
    expected_variables = {snake(n) for n in parameters} | set(MODULE_ONLY_VARIABLES)
    for name in sorted(set(mod.variables) - expected_variables):
        problems.append(f"variable {name}: no parameter, and not in MODULE_ONLY_VARIABLES")

    # Outputs, by snake_case name.
    outputs = {snake(n) for n in template["Outputs"]}
    for name in sorted(outputs - set(mod.outputs)):
        problems.append(f"output {name}: in the template, not in the module")
    for name in sorted(set(mod.outputs) - outputs):
        problems.append(f"output {name}: in the module, not in the template")

    # Resources: per type and condition, as many of each mapped Terraform type.
    wanted: Counter[tuple[str, str | None]] = Counter()
    for logical, resource in template["Resources"].items():
        kinds = TERRAFORM_TYPES.get(resource["Type"])
        if kinds is None:
            problems.append(f"{logical}: no Terraform type for {resource['Type']}")
            continue
        for kind in kinds:
            wanted[kind, resource.get("Condition")] += 1
    made: Counter[tuple[str, str | None]] = Counter()
    for block in mod.resources:
        count = multiplicity(block, inputs)
        if isinstance(count, str):
            problems.append(count)
            continue
        if count[1] == "opt-in":
            if block.kind not in TERRAFORM_ONLY:
                problems.append(f"{block.kind}.{block.name}: opt-in, not in TERRAFORM_ONLY")
            continue
        made[block.kind, count[1]] += count[0]
    for key in sorted(set(wanted) | set(made), key=str):
        if wanted[key] != made[key]:
            problems.append(f"{key}: the template makes {wanted[key]}, the module {made[key]}")

    # The role's statements, and the alarms' metrics.
    routes = parse_routes(inputs["routes"]) if inputs["routes"] else []
    if template_statements(template) != module_statements(routes):
        problems.append(
            f"the role: the template's {template_statements(template)}, "
            f"the module's {module_statements(routes)}"
        )
    problems += alarm_differences(template)
    return problems


def alarm_differences(template: Mapping[str, Any]) -> list[str]:
    def mine(value: Any) -> str:
        if isinstance(value, dict) and "Ref" in value:
            return f"var.{snake(value['Ref'])}"
        return compact(value)

    keys = ["Namespace", "MetricName", "Statistic", "Period", "EvaluationPeriods", "Threshold"]
    keys += ["ComparisonOperator", "TreatMissingData"]
    theirs = Counter(
        tuple(mine(r["Properties"][k]) for k in keys)
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    )
    ours = Counter(
        tuple(compact(b.body[snake(k)]) for k in keys)
        for b in module().resources
        if b.kind == "aws_cloudwatch_metric_alarm"
    )
    if theirs == ours:
        return []
    return [f"alarms: the template's {sorted(theirs)}, the module's {sorted(ours)}"]
