"""The command line a person expects (issue 15, item 6), and the one map from errors to exit
statuses (item 5): ``bucketsync.cli.exits``."""

from __future__ import annotations

import errno
import re
import sys

import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner, Result

from bucketsync import __version__
from bucketsync.cli import app, main
from bucketsync.cli.catalog import NARROW, render
from bucketsync.cli.exits import explain
from bucketsync.errors import (
    BucketSyncError,
    ConfigurationError,
    MalformedEventError,
    MalformedFileError,
    RetryableError,
    SinkWriteError,
)
from bucketsync.settings import Settings
from tests.unit.configuring import run_main

PLAIN = {"COLUMNS": "200", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "NO_COLOR": "1"}
SECRETS = ("access_key_id", "secret_access_key", "api_token", "hmac_secret")


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env={**PLAIN, **(env or {})})


# --- --version and --help --------------------------------------------------------------------


def test_version_prints_the_version_and_exits_0() -> None:
    result = invoke("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"bucketsync {__version__}"


def test_version_needs_no_valid_settings() -> None:
    result = invoke("--version", env={"BUCKETSYNC_WORKER_THREADS": "0"})
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "command",
    [(), ("serve",), ("load",), ("reconcile",), ("worker",), ("catalog", "ls"), ("local", "up")],
)
def test_flags_show_no_value_placeholder(command: tuple[str, ...]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.stdout
    assert "--help" in result.stdout


def test_options_that_take_a_value_still_say_so() -> None:
    result = invoke("catalog", "ls", "--help")
    line = next(line for line in result.stdout.splitlines() if "--limit" in line)
    assert "int" in line


# --- bucketsync config -----------------------------------------------------------------------


def config_lines(env: dict[str, str | None] | None = None) -> dict[str, str]:
    result = invoke("config", env=env)
    assert result.exit_code == 0, result.output
    lines = {}
    for line in result.stdout.splitlines():
        variable, _, rest = line.partition("=")
        lines[variable] = rest.split("\t#", 1)[0]
    return lines


def test_config_shows_an_unset_secret_as_unset() -> None:
    shown = config_lines()
    for name in SECRETS:
        assert shown[f"BUCKETSYNC_{name.upper()}"] == "", name


def test_config_shows_a_set_secret_as_asterisks_only() -> None:
    values: dict[str, str | None] = {
        f"BUCKETSYNC_{name.upper()}": f"{name}-0123456789abcdef" for name in SECRETS
    }
    shown = config_lines(values)
    for name in SECRETS:
        assert shown[f"BUCKETSYNC_{name.upper()}"] == "**********", name


def test_config_shows_a_parameter_name_that_only_sounds_secret() -> None:
    shown = config_lines({"BUCKETSYNC_HMAC_SECRET_PARAMETER": "/bucketsync/hmac"})
    assert shown["BUCKETSYNC_HMAC_SECRET_PARAMETER"] == "/bucketsync/hmac"


def test_config_in_a_table_says_unset() -> None:
    result = invoke("config", env={"COLUMNS": "250", "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "BUCKETSYNC_API_TOKEN" in line)
    assert "(unset)" in row and "*" not in row


# --- settings refused where they are read ----------------------------------------------------


@pytest.mark.parametrize(
    "routes",
    ["not json", '{"match": "x"}', '[{"match": "data/*"}]', '[{"match": "a[", "table": "rows"}]'],
)
def test_invalid_routes_are_refused_by_settings(routes: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Settings(routes=routes)
    assert [error["loc"] for error in excinfo.value.errors()] == [("routes",)]


@pytest.mark.parametrize("routes", [None, "", "[]", '[{"match": "d/*.jsonl", "table": "rows"}]'])
def test_valid_routes_are_kept_as_given(routes: str | None) -> None:
    assert Settings(routes=routes).routes == routes


@pytest.mark.parametrize(
    "endpoint", ["127.0.0.1:5000", "localhost", "http://", "ftp://host", "//host:5000"]
)
def test_an_endpoint_must_be_an_http_url(endpoint: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Settings(endpoint_url=endpoint)
    assert "http://" in str(excinfo.value)


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:5000", "https://s3.eu-west-1.amazonaws.com", "http://[::1]:9"]
)
def test_an_http_endpoint_is_accepted(endpoint: str) -> None:
    assert Settings(endpoint_url=endpoint).endpoint_url == endpoint


def test_an_empty_endpoint_means_real_aws() -> None:
    assert Settings(endpoint_url="  ").endpoint_url is None


def test_a_refused_endpoint_never_shows_its_password() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Settings(endpoint_url="ftp://user:hunter2-secret@host/")
    code, line = explain(excinfo.value)
    assert code == 78
    assert "hunter2-secret" not in line


def test_main_refuses_invalid_routes_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BUCKETSYNC_ROUTES", "[{")
    assert run_main(monkeypatch, "config") == 78
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "routes (BUCKETSYNC_ROUTES): not valid JSON" in err


# --- the one map from errors to exit statuses ------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code", "start"),
    [
        (ConfigurationError("table missing"), 78, "configuration error: table missing"),
        (MalformedEventError("bad", "Records[0]"), 65, "malformed input: Records[0]: bad"),
        (MalformedFileError("not gzip"), 65, "malformed input: not gzip"),
        (RetryableError("Throttled"), 75, "error: Throttled"),
        (SinkWriteError("too large"), 1, "error: too large"),
        (BucketSyncError("other"), 1, "error: other"),
        (PermissionError(errno.EACCES, "Permission denied", "/x"), 74, "error: /x: Permission"),
        (KeyError("bug"), 70, "internal error: KeyError"),
    ],
)
def test_every_error_is_one_line_and_a_status(error: Exception, code: int, start: str) -> None:
    got, line = explain(error)
    assert got == code
    assert line.startswith(start)
    assert "\n" not in line


def test_a_multi_line_message_is_folded_into_one_line() -> None:
    _, line = explain(ConfigurationError("first\nsecond\n  third"))
    assert line == "configuration error: first second third"


def test_a_bug_asks_for_debug_and_shows_its_traceback_only_then(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr("bucketsync.cli.app", broken)
    monkeypatch.setattr(sys, "argv", ["bucketsync"])
    with pytest.raises(SystemExit) as excinfo:
        main()
    assert excinfo.value.code == 70
    err = capsys.readouterr().err
    assert "internal error: KeyError" in err and "--log-level DEBUG" in err
    assert "Traceback" not in err


# --- catalog ls in 80 columns ----------------------------------------------------------------


def test_the_narrow_table_fits_80_columns() -> None:
    from rich.console import Console  # noqa: PLC0415

    items = [
        {
            "object_key": "reports/2024/a rather long key name that must fold.csv",
            "size": 123_456_789,
            "etag": "0123456789abcdef0123456789abcdef",
            "last_modified": "2026-01-02T03:04:05+00:00",
        },
        {"object_key": "gone.txt", "deleted": True},
    ]
    console = Console(width=80, record=True, force_terminal=False)
    console.print(render(items, "s3://b/ — 2 object(s)", NARROW, etag_chars=8))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "117.7 MiB" in text and "2026-01-02 03:04:05" in text and "01234567" in text
    assert "(deleted)" in text


def test_secret_settings_are_secret_strings() -> None:
    # config tells a secret by its type: every secret must be one.
    for name in SECRETS:
        assert Settings.model_fields[name].annotation == SecretStr | None, name


def test_the_readme_documents_every_exit_status() -> None:
    from pathlib import Path  # noqa: PLC0415

    from bucketsync.cli import exits  # noqa: PLC0415

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", readme, flags=re.MULTILINE)}
    codes = {v for k, v in vars(exits).items() if k.startswith("EXIT_") and isinstance(v, int)}
    assert codes <= documented
