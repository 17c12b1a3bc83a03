"""The Terraform module in ``deploy/terraform``, held to the CloudFormation template from code.

No terraform binary runs here (``terraform init`` needs the provider registry), so the module is
read as data: every ``.tf`` file is parsed with python-hcl2 and compared with ``render()`` for
the same shape, the plain catalog and the catalog with ``EXAMPLE_ROUTES``. ``differences`` is
the parity check: a parameter, output or resource added to the template and not to the module,
or a statement of the role the module lacks, is a difference (a test feeds it such a template).

python-hcl2 has written its dicts in more than one way (attributes wrapped in one-element lists
or not, string literals and block labels kept in quotes or not): ``_clean`` reduces each to one
form, told apart by parsing a probe. Conditions are evaluated by a small interpreter of the part
of HCL they use (``evaluate``): comparisons, arithmetic, ``&&``, ``||``, ``!`` on ``var.*`` and
``local.*``; anything else it declines, and the caller says what a declined condition means.
"""

from __future__ import annotations

import ast
import copy
import functools
import operator
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hcl2.api import loads as parse_hcl

from bucketsync.deploy.notification import EVENTS
from bucketsync.deploy.parameters import check, defaults
from bucketsync.deploy.render import EXAMPLE_ROUTES
from bucketsync.deploy.template import render
from bucketsync.record_routes import Route, parse_routes

MODULE = Path(__file__).parents[2] / "deploy" / "terraform"

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


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# --- Reading the module ---------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """How the installed python-hcl2 writes its dicts."""

    wrapped: bool  # every attribute value in a one-element list
    quoted: bool  # string literals and block labels keep their quotes


@functools.cache
def dialect() -> Dialect:
    probe: Any = parse_hcl('a = "x"\nb "l" {\n  c = 1\n}\n')
    value = probe["a"]
    wrapped = isinstance(value, list)
    return Dialect(wrapped, (value[0] if wrapped else value) == '"x"')


def _unquote(text: str) -> str:
    if dialect().quoted and len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def _clean(node: Any) -> Any:
    """One form for every python-hcl2: no metadata, no quotes, attributes unwrapped.

    Where attributes come wrapped, a one-element list attribute comes back as its element:
    read list attributes with ``listed``, object attributes and single blocks with ``obj``.
    """
    if isinstance(node, dict):
        return {
            _unquote(key): _clean(value)
            for key, value in node.items()
            if not (key.startswith("__") and key.endswith("__"))
        }
    if isinstance(node, list):
        if dialect().wrapped and len(node) == 1 and not isinstance(node[0], dict):
            return _clean(node[0])
        return [_clean(item) for item in node]
    if isinstance(node, str):
        return _unquote(node)
    return node


def unwrap(value: Any) -> str:
    """The expression inside ``${...}``, or the literal as text."""
    text = str(value).strip()
    if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
        return text[2:-1].strip()
    return text


def compact(value: Any) -> str:
    """The expression without blanks, its string quotes all double (dialects differ in both)."""
    return re.sub(r"\s+", "", unwrap(value)).replace("'", '"')


def obj(value: Any) -> dict[str, Any]:
    """An object attribute (or a single block): some dialects wrap it in a list."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    assert isinstance(value, dict), value
    return value


def blocks(body: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    found = body.get(key, [])
    return [found] if isinstance(found, dict) else list(found)


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Block:
    kind: str
    name: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Module:
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    resources: list[Block]
    data: list[Block]
    terraform: list[dict[str, Any]]
    locals: dict[str, Any]
    text: str  # every file, for what hcl2 drops (comments)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        return next(b.body for b in self.resources if (b.kind, b.name) == (kind, name))

    def datum(self, kind: str, name: str) -> dict[str, Any]:
        return next(b.body for b in self.data if (b.kind, b.name) == (kind, name))


def parse(path: Path) -> dict[str, Any]:
    parsed: Any = parse_hcl(path.read_text(encoding="utf-8"))
    cleaned = _clean(parsed)
    assert isinstance(cleaned, dict)
    return cleaned


@functools.cache
def module() -> Module:
    variables: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    resources: list[Block] = []
    data: list[Block] = []
    terraform: list[dict[str, Any]] = []
    local_values: dict[str, Any] = {}
    for path in sorted(MODULE.glob("*.tf")):
        content = parse(path)
        for entry in content.get("variable", []):
            variables.update(entry)
        for entry in content.get("output", []):
            outputs.update(entry)
        for entry in content.get("locals", []):
            local_values.update(entry)
        terraform += content.get("terraform", [])
        for key, into in (("resource", resources), ("data", data)):
            for entry in content.get(key, []):
                for kind, named in entry.items():
                    into += [Block(kind, name, body) for name, body in named.items()]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(MODULE.glob("*.tf")))
    return Module(variables, outputs, resources, data, terraform, local_values, text)


# --- Evaluating conditions ------------------------------------------------------------------


class Unsupported(Exception):
    """The expression uses more of HCL than ``evaluate`` knows."""


def evaluate(expression: Any, names: Mapping[str, Any]) -> Any:
    """An HCL condition of comparisons, arithmetic, ``&&``, ``||``, ``!`` on var.* / local.*."""
    text = unwrap(expression).replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"!(?!=)", " not ", text)
    text = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", text))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise Unsupported(text) from exc
    return _value(tree.body, names)


_OPERATORS: dict[type[ast.AST], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _value(node: ast.expr, names: Mapping[str, Any]) -> Any:
    match node:
        case ast.Constant(value=value) if isinstance(value, int | str):
            return value
        case ast.Attribute(value=ast.Name(id=scope), attr=attr) if scope in ("var", "local"):
            if f"{scope}.{attr}" not in names:
                raise Unsupported(f"{scope}.{attr}")
            return names[f"{scope}.{attr}"]
        case ast.BoolOp(op=ast.And(), values=values):
            return all([_value(v, names) for v in values])  # HCL does not short-circuit
        case ast.BoolOp(op=ast.Or(), values=values):
            return any([_value(v, names) for v in values])
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return not _value(operand, names)
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_value(operand, names)
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _OPERATORS:
            return _OPERATORS[type(op)](_value(left, names), _value(right, names))
        case ast.Compare(left=left, ops=[op], comparators=[right]) if type(op) in _OPERATORS:
            return _OPERATORS[type(op)](_value(left, names), _value(right, names))
    raise Unsupported(ast.dump(node))


def condition_holds(condition: Any, names: Mapping[str, Any]) -> bool | None:
    """True or False, or None when the condition is beyond ``evaluate``."""
    try:
        return bool(evaluate(condition, names))
    except Unsupported:
        return None


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
