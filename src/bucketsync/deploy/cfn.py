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
