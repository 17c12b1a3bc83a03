"""The Lambda artefact stays small: the handler imports the core only, and the core's
dependencies are exactly the four the README promises, each with a lower bound."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
HANDLERS = (
    "bucketsync.runtimes.lambda_handler",
    "bucketsync.runtimes.forwarder",
    "bucketsync.runtimes.reconcile",
)
# Top-level packages the Lambda artefact does not carry (CLI, service, emulator, tests) and
# bucketsync's own layers above the runtimes.
NOT_IN_LAMBDA = (
    "typer",
    "click",
    "rich",
    "fastapi",
    "starlette",
    "uvicorn",
    "moto",
    "flask",
    "werkzeug",
    "hypothesis",
    "pytest",
    "pyarrow",
    "bucketsync.cli",
    "bucketsync.local",
)
CORE = {"boto3", "aws-lambda-powertools", "pydantic", "pydantic-settings", "ijson"}

PROBE = """
import json, sys
import {module}
forbidden = {forbidden!r}
loaded = sorted(
    name for name in sys.modules
    if any(name == f or name.startswith(f + ".") for f in forbidden)
)
print(json.dumps({{"loaded": loaded}}))
"""


def pyproject() -> dict[str, Any]:
    with PYPROJECT.open("rb") as file:
        return tomllib.load(file)


def probe(module: str, forbidden: tuple[str, ...]) -> dict[str, Any]:
    """Import ``module`` in a fresh interpreter and report which forbidden modules came along."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module, forbidden=forbidden)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("handler", HANDLERS)
def test_the_handlers_import_nothing_the_lambda_artefact_does_not_carry(handler: str) -> None:
    assert probe(handler, NOT_IN_LAMBDA)["loaded"] == []


def test_the_probe_does_see_a_forbidden_import() -> None:
    # the check is not vacuous: importing the CLI drags typer and rich in
    result = probe("bucketsync.cli", ("typer", "rich"))
    assert {"typer", "rich"} <= set(result["loaded"])


def test_core_dependencies_are_exactly_these_with_lower_bounds() -> None:
    requirements = [Requirement(text) for text in pyproject()["project"]["dependencies"]]
    assert {canonicalize_name(r.name) for r in requirements} == CORE
    assert len(requirements) == len(CORE)
    for requirement in requirements:
        assert requirement.marker is None, requirement
        assert not requirement.extras, requirement
        assert any(spec.operator == ">=" for spec in requirement.specifier), requirement


def optional_requirements() -> list[tuple[str, str]]:
    extras: dict[str, list[str]] = pyproject()["project"]["optional-dependencies"]
    return [(extra, text) for extra, texts in extras.items() for text in texts]


@pytest.mark.parametrize(("extra", "text"), optional_requirements())
def test_every_optional_dependency_has_a_lower_bound(extra: str, text: str) -> None:
    requirement = Requirement(text)
    if canonicalize_name(requirement.name) == "bucketsync":
        assert requirement.extras, f"[{extra}] {text}: a self-reference names extras"
        return  # bucketsync[cli] etc.: this very package, no version to bound
    lower = [spec for spec in requirement.specifier if spec.operator in (">=", "~=")]
    assert lower, f"[{extra}] {text} has no lower bound"


def test_the_cli_imports_without_the_service_or_the_emulator() -> None:
    # `pip install bucketsync[cli]` has neither: `serve` and `local` import them when run.
    assert probe("bucketsync.cli.app", ("fastapi", "starlette", "uvicorn", "moto"))["loaded"] == []
