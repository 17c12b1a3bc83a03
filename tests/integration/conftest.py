"""Fixtures shared by the integration tests (the emulator's are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bucketsync.aws.clients import Clients
from bucketsync.local.stack import StackNames
from bucketsync.sinks.catalog.schema import table_definition


@pytest.fixture
def rows_table(clients: Clients, names: StackNames) -> Iterator[str]:
    """A records table (pk/sk) of the test's own, deleted afterwards."""
    table = f"{names.table}-rows"
    clients.dynamodb.create_table(**table_definition(table))  # type: ignore[arg-type]
    yield table
    clients.dynamodb.delete_table(TableName=table)
