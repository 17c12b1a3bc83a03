"""The structure rules (issue 16), read from the source.

From the import graph of ``src/bucketsync`` (``import_graph.py``): ``local`` never imports the
CLI; the composition module (``compose``) never imports a runtime; ``api`` imports only the faces
of ``sinks``'s packages (``sinks.mirror``, never ``sinks.mirror.store``); only ``aws`` imports
``botocore.exceptions``; the top-level subpackages import each other without a cycle, and no
module imports itself around a loop (a package's face aside). No module
of ``src/bucketsync``, ``tests`` or ``bench`` is over 420 lines: helpers, conftests and scripts
included, none exempt. Every error class is defined in ``bucketsync.errors`` (a module's private
``_Name``, raised and caught inside it, aside), and that module's docstring draws each one.
Every rule holds: each test names the offenders it finds.
"""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

from tests.unit.import_graph import (
    MODULES,
    SRC,
    Offenders,
    imported_modules,
    importers,
    imports_of,
    modules_in,
    resolved,
    within,
)

# --- structure (issue 16) --------------------------------------------------------------------


MAX_LINES = 420
REPOSITORY = Path(__file__).resolve().parents[2]  # src/, tests/ and bench/ are under it


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


def checked_files() -> dict[str, Path]:
    """Every module the length rule reads, by its path in the repository: src/bucketsync's,
    and every one under tests/ and bench/ (helpers, conftests and scripts too)."""
    found = {f"src/bucketsync/{path.relative_to(SRC)}": path for path, _ in MODULES.values()}
    for folder in ("tests", "bench"):
        files = sorted((REPOSITORY / folder).rglob("*.py"))
        assert files, f"no modules under {REPOSITORY / folder}: point the rule at its new place"
        found |= {str(path.relative_to(REPOSITORY)): path for path in files}
    return found


def long_modules() -> Offenders:
    lengths = {name: len(path.read_text().splitlines()) for name, path in checked_files().items()}
    return {
        name: f"{lines} lines (at most {MAX_LINES}): split it by concept"
        for name, lines in sorted(lengths.items())
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


def module_cycles() -> Offenders:
    """Modules that import each other around a loop, a package's face (``__init__``, which only
    hands names on) aside: the loop is named by its members, the first import of it shown."""
    graph = {
        module: {n for n in imports_of(module) if n in MODULES and not MODULES[n][1]}
        for module in MODULES
        if not MODULES[module][1]
    }
    cycles: Offenders = {}
    for start in sorted(graph):
        # Every module that reaches back to ``start``, by a search from each of its imports.
        back: set[str] = set()
        for first in graph[start]:
            seen, todo = {first}, [first]
            while todo:
                for nxt in graph.get(todo.pop(), set()):
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
            if start in seen:
                back.add(first)
        if back:
            loop = " <-> ".join(sorted({start, *back}))
            cycles.setdefault(loop, f"{start} imports {sorted(back)[0]}, which leads back")
    return cycles


def test_no_module_import_loop() -> None:
    assert module_cycles() == {}


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
