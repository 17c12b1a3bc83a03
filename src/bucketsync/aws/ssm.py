"""Secrets kept in SSM Parameter Store, read once at a cold start; botocore's errors translated."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import translate
from bucketsync.errors import ConfigurationError


def read_secret(ssm: Any, name: str) -> str:
    """The decrypted value of parameter ``name`` (a SecureString); never empty."""
    try:
        answer = ssm.get_parameter(Name=name, WithDecryption=True)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"GetParameter {name}") from exc
    value = str(answer.get("Parameter", {}).get("Value", ""))
    if not value:
        raise ConfigurationError(f"SSM parameter {name} is empty: an empty secret is no secret")
    return value


def parameter_type(ssm: Any, name: str) -> str | None:
    """The parameter's type (String, StringList, SecureString), or None when there is none;
    its value is not read."""
    try:
        answer = ssm.describe_parameters(
            ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]
        )
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"DescribeParameters {name}") from exc
    found = answer.get("Parameters", [])
    return str(found[0].get("Type")) if found else None
