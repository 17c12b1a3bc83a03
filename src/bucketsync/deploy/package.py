"""The function's zip: bucketsync's runtime code and what it imports, built for Lambda's Linux.

The wheels are Lambda's, not the build machine's: ``pip install --platform
manylinux2014_aarch64 --only-binary=:all:`` fetches pydantic-core's and ijson's compiled parts
for Linux arm64 and the function's Python. boto3 is left out (Lambda's Python runtime carries
it), and so are the parts of bucketsync a function never imports (the CLI, the service, the
emulator, deploy itself). The zip is deterministic: files in order, one timestamp.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import bucketsync
from bucketsync.errors import ConfigurationError

# What the handlers import beyond the standard library and boto3 (the Lambda runtime's).
REQUIREMENTS = (
    "aws-lambda-powertools>=3.0",
    "pydantic>=2.6",
    "pydantic-settings>=2.2",
    "ijson>=3.2",
)
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64")
LEFT_OUT = ("api", "cli", "local", "deploy", "operate")  # parts no handler imports
ZIP_TIME = (2026, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Built:
    path: Path
    size: int
    files: int
    sha256: str


def build(target: Path, *, python: str = "3.13", pip: Path | None = None) -> Built:
    """Write the zip to ``target``: bucketsync's runtime code and its Linux arm64 wheels."""
    with tempfile.TemporaryDirectory(prefix="bucketsync-zip-") as temporary:
        site = Path(temporary) / "site"
        _install(site, python, pip)
        _copy_source(site / "bucketsync")
        return _zip(site, target)


def _install(site: Path, python: str, pip: Path | None) -> None:
    command = [
        str(pip) if pip else sys.executable,
        *([] if pip else ["-m", "pip"]),
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(site),
        "--implementation",
        "cp",
        "--python-version",
        python,
        "--only-binary=:all:",
        "--no-compile",
        *(arg for platform in PLATFORMS for arg in ("--platform", platform)),
        *REQUIREMENTS,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigurationError(
            f"could not fetch the function's wheels for Linux arm64 (pip exited "
            f"{done.returncode}): {done.stderr.strip()[-500:]}"
        )
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts: a function runs none


def _copy_source(target: Path) -> None:
    source = Path(bucketsync.__file__).parent
    shutil.copytree(
        source,
        target,
        ignore=lambda directory, names: [
            name
            for name in names
            if name == "__pycache__"
            or name.endswith(".pyc")
            or (Path(directory) == source and name in LEFT_OUT)
        ],
    )


def _zip(site: Path, target: Path) -> Built:
    target.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(path for path in site.rglob("*") if path.is_file())
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(site).as_posix(), ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    data = target.read_bytes()
    return Built(target, len(data), len(files), hashlib.sha256(data).hexdigest())


def describe(path: Path) -> Built:
    """A zip built before (``bucketsync deploy --package``), checked to be one."""
    if not zipfile.is_zipfile(path):
        raise ConfigurationError(f"{path} is not a zip file")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if "bucketsync/runtimes/lambda_handler.py" not in names:
        raise ConfigurationError(f"{path} holds no bucketsync/runtimes/lambda_handler.py")
    data = path.read_bytes()
    return Built(path, len(data), len(names), hashlib.sha256(data).hexdigest())
