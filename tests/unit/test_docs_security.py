"""docs/security.md's threat table names the tests that hold each promise: they must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
# `file.py::test_name`, `::test_name` (same file as the last one named), or `file.py` alone
_CITED = re.compile(r"`((?:[\w/]+\.py)?)(?:::(\w+))?`")


def cited_tests() -> list[tuple[str, str | None]]:
    cited: list[tuple[str, str | None]] = []
    for line in DOC.read_text().splitlines():
        if not line.startswith("|"):
            continue
        last = ""  # a row names its first test's file
        for file, name in _CITED.findall(line):
            if not file and not name:
                continue
            if file.startswith("test_") or file.startswith("tests/"):
                last = file
            elif file:
                continue  # a source module, not a test
            assert last, f"a row of docs/security.md cites ::{name} before any file: {line}"
            cited.append((last, name or None))
    return cited


def test_every_test_the_threat_table_names_exists() -> None:
    tests = {path.name: path for path in (ROOT / "tests").rglob("test_*.py")}
    cited = cited_tests()
    assert len(cited) > 20
    missing = []
    for file, name in cited:
        path = tests.get(Path(file).name)
        if path is None:
            missing.append(file)
        elif name and not re.search(rf"^def {name}\(", path.read_text(), re.MULTILINE):
            missing.append(f"{file}::{name}")
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"
