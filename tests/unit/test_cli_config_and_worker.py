"""``bucketsync config`` (every setting, flags over the environment, never a secret) and
``bucketsync worker`` through ``main()``: the exit statuses of a missing queue, of success and
of an invalid environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bucketsync.cli import app
from bucketsync.settings import Settings
from tests.unit.configuring import KEY_ID, SECRET, run_main

WIDE = {"COLUMNS": "300", "FORCE_COLOR": None, "TTY_COMPATIBLE": None}


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env={**WIDE, **(env or {})})


# --- bucketsync config -----------------------------------------------------------------------


def test_config_prints_every_setting_and_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUCKETSYNC_TABLE", "table-from-env")
    result = invoke("config")
    assert result.exit_code == 0, result.output
    for name in Settings.model_fields:
        assert name in result.stdout
        assert f"BUCKETSYNC_{name.upper()}" in result.stdout
    assert "table-from-env" in result.stdout


def test_config_shows_global_flags_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUCKETSYNC_TABLE", "table-from-env")
    monkeypatch.setenv("BUCKETSYNC_REGION", "eu-west-1")
    result = invoke("--table", "table-from-flag", "--region", "eu-central-1", "config")
    assert result.exit_code == 0, result.output
    assert "table-from-flag" in result.stdout and "table-from-env" not in result.stdout
    assert "eu-central-1" in result.stdout and "eu-west-1" not in result.stdout


@pytest.mark.parametrize("columns", ["300", "80", "40"])
def test_config_never_prints_a_secret(monkeypatch: pytest.MonkeyPatch, columns: str) -> None:
    monkeypatch.setenv("BUCKETSYNC_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("BUCKETSYNC_ACCESS_KEY_ID", KEY_ID)
    result = invoke("config", env={"COLUMNS": columns})
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert KEY_ID not in result.output
    # also not folded across lines of the table
    flat = "".join(result.output.split()).replace("│", "")
    assert SECRET not in flat and KEY_ID not in flat
    assert "*****" in result.output


def test_config_prints_every_variable_in_full_when_piped() -> None:
    result = invoke("config", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    missing = [n for n in Settings.model_fields if f"BUCKETSYNC_{n.upper()}" not in result.stdout]
    assert missing == []


# --- bucketsync worker, through main() -------------------------------------------------------


def test_worker_without_a_queue_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_main(monkeypatch, "--endpoint-url", "http://127.0.0.1:9", "worker", "--drain")
    captured = capsys.readouterr()
    assert code == 78  # EX_CONFIG
    assert "--queue-url" in captured.err
    assert "BUCKETSYNC_QUEUE_URL" in captured.err
    assert "Traceback" not in captured.err


def test_the_console_script_exits_78_without_a_queue(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "bucketsync"
    if not script.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUCKETSYNC_")}
    done = subprocess.run(
        [str(script), "worker"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 78, done.stderr
    assert "--queue-url" in done.stderr and "BUCKETSYNC_QUEUE_URL" in done.stderr
    assert done.stdout == ""


def test_main_exits_0_on_success(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    assert run_main(monkeypatch, "config") == 0
    assert "BUCKETSYNC_QUEUE_URL" in capsys.readouterr().out


def test_an_invalid_environment_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BUCKETSYNC_WORKER_THREADS", "0")
    code = run_main(monkeypatch, "config")
    err = capsys.readouterr().err
    assert code == 78
    assert "worker_threads" in err
    assert "Traceback" not in err
