"""schemathesis over the running service's own OpenAPI document: no input makes it answer 5xx.

Each operation gets generated requests, valid ones and invalid ones (wrong types, limits out of
range, odd paths and bodies), sent over HTTP with the bearer token, against the emulator.
The operations are driven one by one through ``as_strategy`` rather than schemathesis's pytest
plugin (``from_fixture``), whose lazy loading breaks on pytest 9.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import BaseSchema, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok
from tests.integration.service_harness import BEARER, Http, put, running, service_settings_for

from bucketsync.api import create_app
from bucketsync.aws.clients import Clients
from bucketsync.local.stack import Stack
from bucketsync.settings import Settings

MAX_EXAMPLES = 30  # per operation and mode: the whole module stays well under a minute
# No 5xx, and every answer is one the document declares, in its declared shape. Left out:
# rejecting unknown query parameters (HTTP services ignore them) and accepting every
# schema-valid notification body (the schema says "an object"; most objects are no event).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
OPERATIONS = [
    "GET /",
    "GET /ping",
    "GET /api/v1/health",
    "GET /api/v1/config",
    "GET /api/v1/stats",
    "POST /api/v1/sync",
    "GET /api/v1/sync/{job_id}",
    "POST /api/v1/s3-notification",
    "GET /api/v1/files",
    "GET /api/v1/download/{path}",
]


@pytest.fixture
def service(settings: Settings, stack: Stack, clients: Clients, tmp_path: Path) -> Iterator[Http]:
    for key in ("a.txt", "dir/b.txt", "dir/c d.txt"):
        put(clients, stack, key, key.encode())
    with running(create_app(service_settings_for(settings, stack, tmp_path))) as http:
        yield http


@pytest.fixture
def api_schema(service: Http) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{service.base_url}/openapi.json", headers=BEARER)


def test_the_document_lists_every_route(api_schema: BaseSchema) -> None:
    labels = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the document parsed, every operation
        labels.append(result.ok().label)
    assert sorted(labels) == sorted(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_request_makes_the_service_answer_a_server_error(
    api_schema: BaseSchema, service: Http, label: str
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label
    for mode in GenerationMode:

        @given(case=operation.as_strategy(mode))
        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case[schemathesis.APIOperation[Any, Any, Any, Any]]) -> None:
            case.call_and_validate(base_url=service.base_url, headers=BEARER, checks=CHECKS)

        try:
            call()
        except Unsatisfiable:
            # Nothing invalid can be made for an operation without constrained inputs.
            if mode is GenerationMode.POSITIVE:
                raise
