"""The layers of ``src/bucketsync``, read from its imports (``import_graph.py``).

* Layers: ``events`` and ``engine`` never import the AWS SDK (nor ``bucketsync.aws``);
  ``sinks`` never import the layers above them (``runtimes``, ``cli``, ``local``).
* The composition module never imports what runs it; the local stack never imports the CLI;
  the API speaks to the mirror and reconcile through their faces and leaves botocore to
  ``aws``.
"""

from __future__ import annotations

import pytest

from tests.unit.import_graph import SRC, imported_modules, source_files

# --- architecture ----------------------------------------------------------------------------


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
