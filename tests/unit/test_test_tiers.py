"""The test tiers: what needs the emulator is marked ``integration`` by its folder, not by hand."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from tests import conftest


class CollectedItem:
    """Just what the collection hook reads and writes of a ``pytest.Item``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.markers: list[str] = []

    def add_marker(self, marker: pytest.MarkDecorator) -> None:
        self.markers.append(marker.name)


@pytest.mark.parametrize(
    ("relative", "marked"),
    [
        ("integration/test_event_path.py", True),
        ("chaos/test_convergence.py", True),
        ("chaos/a_new_file_with_no_marker.py", True),
        ("sinks/test_conformance.py", True),
        ("unit/test_engine.py", False),
        ("unit/chaos/test_lookalike.py", False),
    ],
)
def test_tests_under_the_emulator_folders_are_marked_integration(
    relative: str, marked: bool
) -> None:
    # GIVEN a collected test in one folder of tests/
    item = CollectedItem(conftest.TESTS / relative)
    # WHEN the root conftest's collection hook runs
    conftest.pytest_collection_modifyitems(
        cast(pytest.Config, None), cast(list[pytest.Item], [item])
    )
    # THEN it is marked integration exactly when it needs the emulator
    assert item.markers == (["integration"] if marked else [])


def test_every_folder_of_tests_is_a_known_tier() -> None:
    # A new folder of tests must be placed: in INTEGRATION_DIRS (needs the emulator) or here.
    without_emulator = {"unit", "events", "__pycache__"}
    folders = {path.name for path in conftest.TESTS.iterdir() if path.is_dir()}
    known = without_emulator | {folder.name for folder in conftest.INTEGRATION_DIRS}
    assert folders <= known, f"place {sorted(folders - known)} in a tier (tests/conftest.py)"
