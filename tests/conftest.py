"""Root fixtures: one emulator per session, a fresh uniquely named stack per test.

Fixtures (integration tests). Every test below ``tests/integration``, ``tests/chaos`` and
``tests/sinks`` (the conformance suite runs on the emulator too) is marked ``integration`` here,
at collection, whether or not its module says so: ``-m "not integration"`` never starts the
emulator, and a new file in those folders needs no marker of its own.

    emulator   session   the running :class:`Emulator` (moto server on 127.0.0.1, fake creds)
    names      function  :class:`StackNames` unique to the test, prefixed with its name
    settings   function  :class:`Settings` for the emulator: fake creds, ``names.table``, and
                         ``queue_url`` of ``names.queue`` (the queue exists once ``stack`` ran)
    clients    function  ``Clients(settings)``
    stack      function  ``ensure_stack(clients, names)``: unversioned bucket, queue + DLQ,
                         table, notification; its queue holds the one ``s3:TestEvent``.
                         Torn down after the test. A versioned bucket:
                         ``ensure_stack(clients, names, versioned=True)``.

For the whole session the environment carries fake AWS credentials only: real keys, profiles,
config files, endpoint overrides and ``BUCKETSYNC_*`` variables are removed, so neither boto3
nor ``Settings`` can pick up anything from the developer's shell. All of it is restored at exit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketsync.aws.clients import Clients
from bucketsync.local.emulator import (
    DEFAULT_REGION,
    FAKE_ACCESS_KEY_ID,
    FAKE_SECRET_ACCESS_KEY,
    Emulator,
    emulator_settings,
)
from bucketsync.local.stack import Stack, StackNames, ensure_stack, teardown_stack
from bucketsync.settings import SEED_NAMES, Settings

TESTS = Path(__file__).parent
# Everything under these needs the emulator: marked ``integration`` at collection.
INTEGRATION_DIRS = (TESTS / "integration", TESTS / "chaos", TESTS / "sinks")
MOTO_ACCOUNT_ID = "123456789012"  # moto's default account: the queue URL's path
_REMOVED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_REGION",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_ENDPOINT_URL",
)
_environment = pytest.MonkeyPatch()


def pytest_configure(config: pytest.Config) -> None:
    """Fake credentials before anything is imported or collected; undone at unconfigure."""
    for name in list(os.environ):
        if (
            name in _REMOVED
            or name in SEED_NAMES.values()
            or name.startswith(("AWS_ENDPOINT_URL_", "BUCKETSYNC_"))
        ):
            _environment.delenv(name)
    _environment.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY_ID)
    _environment.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET_ACCESS_KEY)
    _environment.setenv("AWS_DEFAULT_REGION", DEFAULT_REGION)
    _environment.setenv("AWS_CONFIG_FILE", os.devnull)
    _environment.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    _environment.setenv("AWS_EC2_METADATA_DISABLED", "true")


def pytest_unconfigure(config: pytest.Config) -> None:
    _environment.undo()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.path.is_relative_to(folder) for folder in INTEGRATION_DIRS):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _restore_bucketsync_logger() -> Iterator[None]:
    """The CLI and the Lambda app configure the ``bucketsync`` logger; each test gets it back."""
    logger = logging.getLogger("bucketsync")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One moto server for the whole session; stopped (and reaped) at the end."""
    with Emulator() as running:
        yield running


@pytest.fixture
def names(request: pytest.FixtureRequest) -> StackNames:
    return StackNames.unique(request.node.name)


@pytest.fixture
def settings(emulator: Emulator, names: StackNames) -> Settings:
    return emulator_settings(
        emulator,
        table=names.table,
        queue_url=f"{emulator.endpoint_url}/{MOTO_ACCOUNT_ID}/{names.queue}",
    )


@pytest.fixture
def clients(settings: Settings) -> Clients:
    return Clients(settings)


@pytest.fixture
def stack(clients: Clients, settings: Settings, names: StackNames) -> Iterator[Stack]:
    created = ensure_stack(clients, names)
    assert created.queue_url == settings.queue_url, "moto changed its queue URLs: fix `settings`"
    yield created
    teardown_stack(clients, names)
