"""The public surface, checked from the source.

* ``bucketsync.events`` exports exactly ``__all__``, every name documented.
* ``bucketsync.errors``: one hierarchy under ``BucketSyncError``; only ``RetryableError`` is
  worth retrying.

The architecture rules, read from the import graph, are in ``test_layers.py`` and
``test_structure.py``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

import bucketsync
import bucketsync.events
from bucketsync import errors
from tests.unit.import_graph import SRC

EVENTS_API = {"Change", "ChangeKind", "MalformedEventError", "parse_message", "parse_payload"}


# --- bucketsync.events -----------------------------------------------------------------------


def test_events_all_is_the_documented_api() -> None:
    exported = bucketsync.events.__all__
    assert len(exported) == len(set(exported))
    assert set(exported) == EVENTS_API


def test_events_all_is_exactly_what_is_importable() -> None:
    module = bucketsync.events
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)  # submodules: events.s3, events.sns...
        and name != "annotations"  # from __future__
    }
    assert public == set(module.__all__)
    namespace: dict[str, object] = {}
    exec("from bucketsync.events import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(module.__all__)


@pytest.mark.parametrize("name", sorted(EVENTS_API))
def test_every_exported_name_is_documented(name: str) -> None:
    value = getattr(bucketsync.events, name)
    assert (value.__doc__ or "").strip(), f"bucketsync.events.{name} has no docstring"


def test_malformed_event_error_is_the_errors_one() -> None:
    assert bucketsync.events.MalformedEventError is errors.MalformedEventError


# --- bucketsync.errors -----------------------------------------------------------------------


def all_modules() -> Iterator[types.ModuleType]:
    yield bucketsync
    for info in pkgutil.walk_packages([str(SRC)], prefix="bucketsync."):
        yield importlib.import_module(info.name)


def defined_exceptions() -> dict[str, type[BaseException]]:
    """Every public exception class defined (not just imported) in a bucketsync module."""
    found: dict[str, type[BaseException]] = {}
    for module in all_modules():
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_the_errors_module_is_the_documented_tree() -> None:
    direct = {cls.__name__ for cls in errors.BucketSyncError.__subclasses__()}
    assert {
        "MalformedEventError",
        "ConfigurationError",
        "RetryableError",
        "SinkWriteError",
        "RefusingToDeleteError",
    } <= direct
    assert errors.BucketSyncError.__bases__ == (Exception,)


def test_the_errors_docstring_draws_every_class() -> None:
    # GIVEN the tree drawn in the module's docstring: one class a line, after its branch
    drawn = {
        line.split("── ", 1)[1].split()[0]
        for line in (errors.__doc__ or "").splitlines()
        if "── " in line
    }
    # WHEN the classes the module defines are read
    defined = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
    }
    # THEN each is drawn (the root heads the tree), and nothing drawn is missing
    assert defined - {"BucketSyncError"} == drawn
    assert "    BucketSyncError\n" in (errors.__doc__ or "")


def test_every_bucketsync_error_subclasses_bucketsyncerror() -> None:
    found = defined_exceptions()
    assert "bucketsync.errors.RetryableError" in found  # the walk did find them
    outside = sorted(
        name for name, cls in found.items() if not issubclass(cls, errors.BucketSyncError)
    )
    assert outside == []


def error_instances() -> list[BaseException]:
    made: list[BaseException] = []
    for cls in defined_exceptions().values():
        if cls is errors.MalformedEventError:
            made.append(errors.MalformedEventError("bad", "Records[0]"))
        else:
            made.append(cls("x"))
    return made


def test_is_retryable_only_for_retryable_errors() -> None:
    for exc in error_instances():
        assert errors.is_retryable(exc) is isinstance(exc, errors.RetryableError), exc


def test_is_retryable_is_false_for_what_is_not_ours() -> None:
    throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "PutItem")
    for exc in (throttled, TimeoutError(), ConnectionError(), ValueError(), KeyboardInterrupt()):
        assert errors.is_retryable(exc) is False, exc
    assert errors.is_retryable(errors.RetryableError("slow down")) is True

    class Subclass(errors.RetryableError):
        pass

    assert errors.is_retryable(Subclass()) is True


def test_malformed_event_error_names_where() -> None:
    exc = errors.MalformedEventError("not a string", "Records[0].s3.object.key")
    assert str(exc) == "Records[0].s3.object.key: not a string"
    assert (exc.reason, exc.path) == ("not a string", "Records[0].s3.object.key")
    assert str(errors.MalformedEventError("empty body")) == "empty body"
