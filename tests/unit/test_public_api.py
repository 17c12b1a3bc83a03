"""The public surface and the architecture rules, checked from the source.

* ``bucketsync.events`` exports exactly ``__all__``, every name documented.
* ``bucketsync.errors``: one hierarchy under ``BucketSyncError``; only ``RetryableError`` is
  worth retrying.
* Layers: ``events`` and ``engine`` never import the AWS SDK (nor ``bucketsync.aws``);
  ``sinks`` never import the layers above them (``runtimes``, ``cli``, ``local``).
* Structure (issue 16), read from the import graph of ``src/bucketsync``: ``local`` never
  imports the CLI; the composition module (``compose``) never imports a runtime; ``api`` imports
  only the faces of ``sinks``'s packages (``sinks.mirror``, never ``sinks.mirror.store``); only
  ``aws`` imports ``botocore.exceptions``; no module is over 420 lines; the top-level
  subpackages import each other without a cycle; every error class is defined in
  ``bucketsync.errors`` (a module's private ``_Name``, raised and caught inside it, aside), and
  that module's docstring draws each one. Every rule holds: each test names the offenders it
  finds.
"""

from __future__ import annotations

import ast
import builtins
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


# --- structure (issue 16) --------------------------------------------------------------------


def module_name(path: Path) -> tuple[str, bool]:
    """``(bucketsync.x.y, is a package)`` of a file under ``src/bucketsync``."""
    parts = ("bucketsync", *path.relative_to(SRC).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


MODULES = {
    name: (path, package) for path in SRC.rglob("*.py") for name, package in [module_name(path)]
}
MAX_LINES = 420


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(f"{prefix}.")


def resolved(names: set[str], known: set[str]) -> set[str]:
    """``names`` without the ``bucketsync.a.B`` that ``from bucketsync.a import B`` yields when
    ``B`` is a class or function, not a module (``bucketsync.a`` itself is kept)."""
    return {n for n in names if not n.startswith("bucketsync.") or n in known}


def imports_of(module: str) -> set[str]:
    path, is_package = MODULES[module]
    source = path.read_text()
    return resolved(imported_modules(source, module, is_package=is_package), set(MODULES))


def modules_in(prefix: str) -> list[str]:
    """Every module of ``prefix``, whether it is one file or a package of them."""
    found = sorted(name for name in MODULES if within(name, prefix))
    assert found, f"{prefix} is not in src/bucketsync any more: point the rule at its new place"
    return found


Offenders = dict[str, str]  # what breaks a rule -> how, for the failure message


def importers(prefix: str, imported: str) -> Offenders:
    """Imports of ``imported`` (or below it) by the modules of ``prefix``; outside bucketsync
    named by ``imported`` itself (``botocore.exceptions``, not each class taken from it)."""
    found: Offenders = {}
    for module in modules_in(prefix):
        for name in sorted(imports_of(module)):
            if within(name, imported):
                shown = name if within(name, "bucketsync") else imported
                where = MODULES[module][0].relative_to(SRC)
                found[f"{module} -> {shown}"] = f"{where} imports {shown}"
    return found


def local_imports_the_cli() -> Offenders:
    return importers("bucketsync.local", "bucketsync.cli")


def wiring_imports_a_runtime() -> Offenders:
    return importers("bucketsync.compose", "bucketsync.runtimes")


def api_reaches_inside_a_sink() -> Offenders:
    """``bucketsync.sinks.<package>.<module>``: past the face a sink package exports."""
    inside = importers("bucketsync.api", "bucketsync.sinks")
    return {key: why for key, why in inside.items() if key.split(" -> ")[1].count(".") >= 3}


def botocore_exceptions_outside_aws() -> Offenders:
    return {
        key: why
        for key, why in importers("bucketsync", "botocore.exceptions").items()
        if not within(key.split(" -> ")[0], "bucketsync.aws")
    }


def long_modules() -> Offenders:
    lengths = {path: len(path.read_text().splitlines()) for path, _ in MODULES.values()}
    return {
        str(path.relative_to(SRC)): f"{lines} lines (at most {MAX_LINES}): split it by concept"
        for path, lines in sorted(lengths.items())
        if lines > MAX_LINES
    }


def _base_name(base: ast.expr) -> str:
    """``Error`` of ``class X(Error)``, ``class X(errors.Error)``, ``class X(Error[T])``."""
    if isinstance(base, ast.Name):
        return base.id
    if isinstance(base, ast.Attribute):
        return base.attr
    if isinstance(base, ast.Subscript):
        return _base_name(base.value)
    return ""


BUILTIN_EXCEPTIONS = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
)


def exception_classes(sources: dict[str, str]) -> set[str]:
    """``module.Class`` of every exception class defined in ``sources`` (module -> source),
    nested ones too: a class whose base is a builtin exception, is named ``...Error`` or
    ``...Exception``, or is (by name) another class found so, until no more are."""
    classes = [
        (module, node)
        for module, source in sources.items()
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ClassDef)
    ]
    names = set(BUILTIN_EXCEPTIONS)
    found: set[str] = set()
    grew = True
    while grew:  # a fixed point: a subclass may be read before its base
        grew = False
        for module, node in classes:
            qualified = f"{module}.{node.name}"
            bases = {_base_name(base) for base in node.bases}
            if qualified not in found and any(
                base in names or base.endswith(("Error", "Exception")) for base in bases
            ):
                found.add(qualified)
                names.add(node.name)
                grew = True
    return found


def errors_outside_errors_py() -> Offenders:
    """Public exception classes defined anywhere but ``bucketsync.errors``. A private one
    (``_Name``) is a module's own control flow, raised and caught inside it: allowed."""
    sources = {name: path.read_text() for name, (path, _) in MODULES.items()}
    return {
        qualified: f"{MODULES[qualified.rpartition('.')[0]][0].relative_to(SRC)} defines "
        f"{qualified.rpartition('.')[2]}: move it into errors.py's tree"
        for qualified in sorted(exception_classes(sources))
        if qualified.rpartition(".")[0] != "bucketsync.errors"
        and not qualified.rpartition(".")[2].startswith("_")
    }


def floor(module: str) -> str:
    """The top-level subpackage (or module) of ``bucketsync`` a module belongs to."""
    return module.split(".")[1] if "." in module else module


def subpackage_cycles() -> Offenders:
    """Top-level subpackages that import each other, directly or around a loop."""
    edges: dict[tuple[str, str], str] = {}
    for module in MODULES:
        for name in sorted(imports_of(module)):
            if name in MODULES and name != "bucketsync" and floor(name) != floor(module):
                edges.setdefault((floor(module), floor(name)), f"{module} imports {name}")
    reach = {a: {b for (x, b) in edges if x == a} for (a, _) in edges}
    changed = True
    while changed:  # a transitive closure: a few dozen floors
        changed = False
        for seen in reach.values():
            more = set().union(*(reach.get(b, set()) for b in seen)) - seen
            if more:
                seen.update(more)
                changed = True
    cycles: Offenders = {}
    for a in sorted(reach):
        loop = sorted({a} | {b for b in reach[a] if a in reach.get(b, set())})
        if len(loop) > 1 and " <-> ".join(loop) not in cycles:
            why = [edges[e] for e in sorted(edges) if e[0] in loop and e[1] in loop]
            cycles[" <-> ".join(loop)] = "; ".join(why)
    return cycles


def test_the_structure_rules_read_modules_not_names() -> None:
    known = {"bucketsync.sinks.mirror", "bucketsync.sinks.mirror.store"}
    names = imported_modules(
        "from bucketsync.sinks.mirror import MirrorSink, store\nimport botocore.exceptions",
        "bucketsync.api.files",
    )
    assert resolved(names, known) == {
        "bucketsync.sinks.mirror",
        "bucketsync.sinks.mirror.store",  # a module: inside the sink package
        "botocore.exceptions",
    }
    assert floor("bucketsync.sinks.mirror.store") == "sinks"
    assert floor("bucketsync.compose") == "compose"
    assert modules_in("bucketsync.compose")  # a module or a package: both are found


def test_local_never_imports_the_cli() -> None:
    assert local_imports_the_cli() == {}


def test_the_composition_module_never_imports_a_runtime() -> None:
    assert wiring_imports_a_runtime() == {}


def test_api_imports_only_the_faces_of_the_sink_packages() -> None:
    assert api_reaches_inside_a_sink() == {}


def test_only_the_aws_layer_imports_botocore_exceptions() -> None:
    assert botocore_exceptions_outside_aws() == {}


def test_no_module_is_over_420_lines() -> None:
    assert long_modules() == {}


def test_no_cycle_between_top_level_subpackages() -> None:
    assert subpackage_cycles() == {}


def test_the_exception_scanner_sees_every_form_of_subclass() -> None:
    sources = {
        "bucketsync.a": "\n".join(
            [
                "from bucketsync import errors",
                "class Later(Early): ...",  # read before its base
                "class Early(errors.RetryableError): ...",
                "class Plain(ValueError): ...",
                "class Interrupted(KeyboardInterrupt): ...",
                "class _Private(Exception): ...",
                "class Record: ...",
                "class Model(BaseModel): ...",
                "def f():",
                "    class Nested(LookupError): ...",
            ]
        ),
        "bucketsync.b": "from bucketsync.a import Later\nclass Elsewhere(Later): ...",
    }
    assert exception_classes(sources) == {
        "bucketsync.a.Later",
        "bucketsync.a.Early",
        "bucketsync.a.Plain",
        "bucketsync.a.Interrupted",
        "bucketsync.a._Private",
        "bucketsync.a.Nested",
        "bucketsync.b.Elsewhere",
    }


def test_every_error_class_is_defined_in_errors_py() -> None:
    assert errors_outside_errors_py() == {}
