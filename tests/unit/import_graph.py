"""The import graph of ``src/bucketsync``, read from its source (nothing is imported): what
the layering rules (``test_layers.py``) and the structure rules (``test_structure.py``)
check."""

from __future__ import annotations

import ast
from pathlib import Path

import bucketsync

SRC = Path(bucketsync.__file__).parent


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


def module_name(path: Path) -> tuple[str, bool]:
    """``(bucketsync.x.y, is a package)`` of a file under ``src/bucketsync``."""
    parts = ("bucketsync", *path.relative_to(SRC).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


MODULES = {
    name: (path, package) for path in SRC.rglob("*.py") for name, package in [module_name(path)]
}


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
