"""Fixtures shared by the integration tests (the emulator's are in tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.deploying import Deploying, make_deploying
from tests.integration.service_harness import Http, running, service_settings_for

from bucketsync.api import create_app
from bucketsync.aws.clients import Clients
from bucketsync.deploy import package
from bucketsync.local.stack import Stack, StackNames
from bucketsync.settings import Settings
from bucketsync.sinks.tables import table_definition


@pytest.fixture
def rows_table(clients: Clients, names: StackNames) -> Iterator[str]:
    """A records table (pk/sk) of the test's own, deleted afterwards."""
    table = f"{names.table}-rows"
    clients.dynamodb.create_table(**table_definition(table))
    yield table
    clients.dynamodb.delete_table(TableName=table)


@pytest.fixture
def routed(settings: Settings, rows_table: str) -> Settings:
    """``settings`` routing ``data/**`` into ``rows_table``, CSV column ``n`` an int."""
    routes = [{"match": "data/**", "table": rows_table, "csv": {"column_types": {"n": "int"}}}]
    return settings.override(routes=json.dumps(routes))


@pytest.fixture
def service_settings(settings: Settings, stack: Stack, tmp_path: Path) -> Settings:
    """A mirroring service of ``stack``'s bucket, with a token and a secret, no periodic sync."""
    return service_settings_for(settings, stack, tmp_path)


@pytest.fixture
def api(service_settings: Settings) -> Iterator[Http]:
    """That service on uvicorn on a free loopback port, for the test's duration."""
    with running(create_app(service_settings)) as http:
        yield http


@pytest.fixture(scope="session")
def function_zip(tmp_path_factory: pytest.TempPathFactory) -> package.Built:
    """The function's zip, built once a session (Linux arm64 wheels, fetched by pip)."""
    return package.build(tmp_path_factory.mktemp("function") / "function.zip")


@pytest.fixture
def deploying(
    settings: Settings,
    clients: Clients,
    names: StackNames,
    function_zip: package.Built,
    tmp_path: Path,
) -> Deploying:
    """A bucket that already holds objects and another team's notification (on other/)."""
    return make_deploying(settings, clients, names, function_zip, tmp_path)
