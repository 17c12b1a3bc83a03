"""The public surface and the architecture rules, checked from the source.

* ``bucketsync.events`` exports exactly ``__all__``, every name documented.
* ``bucketsync.errors``: one hierarchy under ``BucketSyncError``; only ``RetryableError`` is
  worth retrying.
* Layers: ``events`` and ``engine`` never import the AWS SDK (nor ``bucketsync.aws``);
  ``sinks`` never import the layers above them (``runtimes``, ``cli``, ``local``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import bucketsync
import bucketsync.events
from bucketsync import errors

SRC = Path(bucketsync.__file__).parent
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


# --- architecture ----------------------------------------------------------------------------


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module an import statement in ``source`` names, relative imports resolved.

    ``from a import b`` yields both ``a`` and ``a.b`` (``b`` may be a submodule). Imports under
    ``if TYPE_CHECKING:`` count too: the rule is about what a layer knows of.
    """
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                origin = f"{base}.{node.module}" if node.module else base
            else:
                origin = node.module or ""
            names.add(origin)
            names.update(f"{origin}.{alias.name}" for alias in node.names)
    return names


def source_files(layer: str) -> list[tuple[str, Path, bool]]:
    """``(module name, path, is a package)`` for every file under ``src/bucketsync/<layer>``."""
    root = SRC / layer
    files = sorted(root.rglob("*.py"))
    assert files, f"no sources under {root}"
    found = []
    for path in files:
        parts = ("bucketsync", *path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found.append((".".join(parts[:-1] if is_package else parts), path, is_package))
    return found


def violations(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for module, path, is_package in source_files(layer):
        for name in imported_modules(path.read_text(), module, is_package=is_package):
            if any(name == f or name.startswith(f"{f}.") for f in forbidden):
                found.append(f"{path.relative_to(SRC)} imports {name}")
    return sorted(found)


SDK = ("boto3", "botocore")


def test_the_import_scanner_sees_every_form_of_import() -> None:
    source = "\n".join(
        [
            "import boto3",
            "import botocore.exceptions as bx",
            "from botocore.config import Config",
            "from bucketsync import cli",
            "from ..runtimes import worker",
            "from . import local",
            "from typing import TYPE_CHECKING",
            "if TYPE_CHECKING:",
            "    from mypy_boto3_s3 import S3Client",
            "def late():",
            "    import bucketsync.local.demo",
        ]
    )
    names = imported_modules(source, "bucketsync.sinks.memory")
    assert {
        "boto3",
        "botocore.exceptions",
        "botocore.config",
        "bucketsync.cli",
        "bucketsync.runtimes.worker",
        "bucketsync.sinks.local",
        "mypy_boto3_s3",
        "bucketsync.local.demo",
    } <= names
    assert "bucketsync.sinks.catalog" in imported_modules(
        "from .catalog import CatalogSink", "bucketsync.sinks", is_package=True
    )


@pytest.mark.parametrize("layer", ["engine", "events"])
def test_engine_and_events_never_import_the_aws_sdk(layer: str) -> None:
    assert violations(layer, SDK) == []


@pytest.mark.parametrize("layer", ["engine", "events"])
def test_engine_and_events_never_import_the_aws_layer_or_anything_above(layer: str) -> None:
    above = ("bucketsync.aws", "bucketsync.sinks", "bucketsync.runtimes", "bucketsync.cli")
    assert violations(layer, (*above, "bucketsync.local", "bucketsync.compose")) == []


def test_events_never_import_the_engine() -> None:
    assert violations("events", ("bucketsync.engine",)) == []


def test_sinks_never_import_runtimes_cli_or_local() -> None:
    forbidden = ("bucketsync.runtimes", "bucketsync.cli", "bucketsync.local", "bucketsync.compose")
    assert violations("sinks", forbidden) == []


def test_composition_never_imports_what_runs_it() -> None:
    # compose.py builds every runtime's parts; the runtimes, the service and the CLI ask it.
    module = SRC / "compose.py"
    forbidden = ("bucketsync.runtimes", "bucketsync.api", "bucketsync.cli", "bucketsync.local")
    names = imported_modules(module.read_text(), "bucketsync.compose")
    assert [n for n in names if any(n == f or n.startswith(f"{f}.") for f in forbidden)] == []


def test_the_local_stack_never_imports_the_cli() -> None:
    assert violations("local", ("bucketsync.cli",)) == []


def _is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split(".")[1:])
    return path.with_suffix(".py").is_file() or path.is_dir()


def test_the_api_speaks_to_the_mirror_and_reconcile_through_their_faces() -> None:
    rooms = ("bucketsync.sinks.mirror.", "bucketsync.reconcile.")
    found = [
        f"{path.relative_to(SRC)} imports {name}"
        for module, path, is_package in source_files("api")
        for name in imported_modules(path.read_text(), module, is_package=is_package)
        if name.startswith(rooms) and _is_module(name)  # not a name the face hands on
    ]
    assert found == []


def test_the_api_leaves_botocore_to_the_aws_layer() -> None:
    assert violations("api", ("botocore",)) == []
