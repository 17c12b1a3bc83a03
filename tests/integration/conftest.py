"""Fixtures shared by the integration tests (the emulator's are in tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from botocore.awsrequest import AWSPreparedRequest
from tests.integration.deploying import Deploying, make_deploying
from tests.integration.mirroring import Sinks
from tests.integration.service_harness import Http, running, service_settings_for

from bucketsync.api import create_app
from bucketsync.aws.clients import Clients
from bucketsync.deploy import package
from bucketsync.local.stack import Stack, StackNames
from bucketsync.settings import Settings
from bucketsync.sinks.mirror import MirrorSink
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


@pytest.fixture
def bucket(clients: Clients, names: StackNames) -> Iterator[str]:
    """A bucket of the test's own, without a queue (the mirror's tests need no events);
    emptied, every version and key with a NUL too, and deleted afterwards."""
    s3 = clients.s3
    s3.create_bucket(Bucket=names.bucket)
    yield names.bucket
    # One by one, as moto cannot put a NUL into DeleteObjects' or ListObjectVersions' XML
    # (so no teardown_stack); the hostile keys' bucket is never versioned.
    if s3.get_bucket_versioning(Bucket=names.bucket).get("Status"):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=names.bucket):
            for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                s3.delete_object(
                    Bucket=names.bucket, Key=version["Key"], VersionId=version["VersionId"]
                )
    else:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=names.bucket):
            keys = [obj["Key"] for obj in page.get("Contents", [])]
            for key in [key for key in keys if "\x00" in key]:
                s3.delete_object(Bucket=names.bucket, Key=key)
            if doomed := [{"Key": key} for key in keys if "\x00" not in key]:
                s3.delete_objects(Bucket=names.bucket, Delete={"Objects": doomed})
    s3.delete_bucket(Bucket=names.bucket)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Where the test's mirror goes; the rest of ``tmp_path`` is "outside", where a mirror must
    never write."""
    return tmp_path / "root"


@pytest.fixture
def sink(clients: Clients, root: Path) -> Iterator[MirrorSink]:
    """A mirror sink of ``root`` (4 downloads at once, a short backoff), closed afterwards."""
    # No rebuild handed here or below: every sink starts on a new root, so its store is never
    # lost and owes none (tests/integration/test_mirror_state.py is where stores get lost).
    made = MirrorSink(clients.s3, root, concurrency=4, backoff=0.01)
    yield made
    made.close()


@pytest.fixture
def gets(clients: Clients) -> list[str]:
    """The key of every GetObject request the client sends from now on (either path)."""
    keys: list[str] = []

    def seen(request: AWSPreparedRequest, **_: Any) -> None:
        keys.append(unquote(urlsplit(request.url).path).split("/", 2)[2])  # /<bucket>/<key>

    clients.s3.meta.events.register("before-send.s3.GetObject", seen)
    return keys


@pytest.fixture
def sinks(clients: Clients, root: Path) -> Iterator[Sinks]:
    """``Sinks`` over ``root``: every sink started is closed afterwards."""
    made = Sinks(clients, root)
    yield made
    for sink in made.opened:
        sink.close()
