"""The function's zip: Lambda's Linux arm64 wheels (not this machine's), only what a handler
imports, small and reproducible."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from bucketsync.deploy import package

AARCH64 = 183  # ELF e_machine of EM_AARCH64
MAX_BYTES = 8 * 1_048_576
HANDLERS = ("bucketsync.runtimes.lambda_handler", "bucketsync.runtimes.forwarder")
NEVER = ("boto3/", "botocore/", "typer/", "rich/", "fastapi/", "uvicorn/", "moto/", "bin/")


def elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF", "not an ELF shared object"
    return int.from_bytes(data[18:20], "little")


def test_the_zip_carries_linux_arm64_wheels_and_nothing_a_handler_does_not_import(
    function_zip: package.Built,
) -> None:
    print(f"function zip: {function_zip.size:,} bytes, {function_zip.files} files")
    assert function_zip.size < MAX_BYTES
    with zipfile.ZipFile(function_zip.path) as archive:
        names = archive.namelist()
        shared = [n for n in names if n.endswith(".so")]
        # pydantic-core's and ijson's C backend, compiled for Lambda's arm64 and Python 3.13
        for wanted in ("pydantic_core/_pydantic_core", "ijson/backends/_yajl2"):
            (found,) = [n for n in shared if n.startswith(wanted)]
            assert "cpython-313-aarch64-linux-gnu" in found
            assert elf_machine(archive.read(found)) == AARCH64
        assert all(elf_machine(archive.read(n)) == AARCH64 for n in shared)
    # Lambda's runtime carries boto3; the CLI, the service, the emulator and deploy stay out
    assert not [n for n in names if n.startswith(NEVER)]
    for part in ("cli", "api", "local", "deploy", "operate"):
        assert not [n for n in names if n.startswith(f"bucketsync/{part}/")]
    # Every module of bucketsync a handler imports is in the zip
    for handler in HANDLERS:
        for module in imported(handler):
            path = module.replace(".", "/")
            assert f"{path}.py" in names or f"{path}/__init__.py" in names, module


def imported(handler: str) -> list[str]:
    probe = (
        f"import json, sys; import {handler}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('bucketsync'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    modules: list[str] = json.loads(out)
    assert handler in modules
    return modules


def test_the_zip_is_reproducible(function_zip: package.Built, tmp_path: Path) -> None:
    again = package.build(tmp_path / "again.zip")
    assert again.sha256 == function_zip.sha256
