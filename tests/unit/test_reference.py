"""The reference docs are generated from the code (``bucketsync.cli.reference``) and kept so.

README.md's settings table and docs/cli.md's CLI reference are regenerated in memory and
compared with the files; a difference fails with the command that rewrites them.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bucketsync.cli import app, reference
from bucketsync.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def settings_section(markdown: str) -> str:
    _, _, rest = markdown.partition("<!-- settings:begin -->")
    return rest.partition("<!-- settings:end -->")[0]


def table_rows(table: str) -> list[list[str]]:
    """The cells of a table's rows (header and rule left out)."""
    lines = [line for line in table.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in line.strip(" |").split(" | ")] for line in lines]


@pytest.mark.parametrize("name", ["README.md", "docs/cli.md"])
def test_the_generated_reference_is_what_the_code_says(name: str) -> None:
    # GIVEN the file as committed, WHEN its sections are regenerated from the code
    old, new = reference.regenerated(ROOT)[ROOT / name]
    # THEN nothing changed
    diff = "".join(
        list(difflib.unified_diff(old.splitlines(True), new.splitlines(True), name, "code"))[:40]
    )
    assert old == new, f"{name} is out of date: run {reference.REGENERATE}\n{diff}"


def test_every_setting_has_exactly_one_row() -> None:
    readme = (ROOT / "README.md").read_text()
    variables = [row[0] for row in table_rows(settings_section(readme))]
    assert variables == [f"`BUCKETSYNC_{name.upper()}`" for name in Settings.model_fields]


def test_the_table_says_what_bucketsync_config_says() -> None:
    # GIVEN `bucketsync config` piped: VARIABLE=value<TAB># name: meaning, one line each
    result = CliRunner().invoke(app, ["config"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    config = {}
    for line in result.output.splitlines():
        assignment, _, comment = line.partition("\t# ")
        config[assignment.partition("=")[0]] = comment.partition(": ")[2]
    # WHEN the table is generated, THEN it has the same variables with the same meanings
    rows = {row[0].strip("`"): row for row in table_rows(reference.settings_table())}
    assert list(rows) == list(config)
    for variable, meaning in config.items():
        assert reference.cell(meaning) in rows[variable][3], variable


def test_every_command_has_a_section() -> None:
    page = (ROOT / "docs/cli.md").read_text()
    command = typer.main.get_command(app)
    root = typer.Context(command, info_name="bucketsync")
    paths = [context.command_path for _, context in reference.commands(command, root)]
    assert {"bucketsync", "bucketsync catalog ls", "bucketsync dlq redrive"} <= set(paths)
    for path in paths:
        assert page.count(f"## `{path}`\n") == 1, path


def test_a_file_without_its_markers_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"README.md: needs one <!-- settings:begin -->"):
        reference.replace_section("no markers", "settings", "body", source="README.md")
    twice = "<!-- cli:begin -->\n<!-- cli:end -->\n<!-- cli:begin -->\n<!-- cli:end -->"
    with pytest.raises(ValueError, match="cli:begin"):
        reference.replace_section(twice, "cli", "body")


def test_the_generator_rewrites_only_between_the_markers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a copy of the repository's docs whose settings table went stale
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "docs/cli.md", tmp_path / "docs/cli.md")
    readme = (ROOT / "README.md").read_text()
    stale = readme.replace("`BUCKETSYNC_REGION` | `us-east-1`", "`BUCKETSYNC_REGION` | `mars-1`")
    assert stale != readme
    (tmp_path / "README.md").write_text(stale)
    # WHEN checked THEN it says so and which command fixes it, and writes nothing
    assert reference.main(["--root", str(tmp_path), "--check"]) == 1
    assert "README.md is out of date: run python -m bucketsync.cli.reference" in (
        capsys.readouterr().err
    )
    assert (tmp_path / "README.md").read_text() == stale
    # WHEN run THEN the table is the code's again, and the rest of the file untouched
    assert reference.main(["--root", str(tmp_path)]) == 0
    assert (tmp_path / "README.md").read_text() == readme
    assert reference.main(["--root", str(tmp_path), "--check"]) == 0
