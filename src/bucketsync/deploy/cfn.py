"""CloudFormation's intrinsic functions as Python values, for the templates rendered in code."""

from __future__ import annotations

from typing import Any

TABLE_ARN = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table"


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def att(resource: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource, attribute]}


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def skip(*checks: tuple[str, str]) -> dict[str, Any]:
    """checkov suppressions, each with its reason, where the resource is."""
    return {"checkov": {"skip": [{"id": check, "comment": why} for check, why in checks]}}


def resolve(template: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """``template`` with its parameters replaced by ``values`` (defaults for the rest).

    ``bucketsync deploy`` sends templates resolved so: what is deployed is all in the template
    (a change set shows every value that changes), and Number parameters reach each resource
    as numbers, which the emulator's CloudFormation needs (it hands a Ref'd number on as text).
    """
    parameters = template.get("Parameters", {})
    given: dict[str, Any] = {}
    for name, definition in parameters.items():
        value = values.get(name, definition.get("Default"))
        if value is None:
            raise ValueError(f"parameter {name} has no value and no default")
        given[name] = int(value) if definition.get("Type") == "Number" else str(value)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in given:
                return given[node["Ref"]]
            if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
                text = node["Fn::Sub"]
                for name, value in given.items():
                    text = text.replace("${" + name + "}", str(value))
                return {"Fn::Sub": text}
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    resolved = {key: walk(value) for key, value in template.items() if key != "Parameters"}
    return resolved
