"""``Settings`` (env, overrides, validation), ``bucketsync config|worker`` and ``parse_s3_uri``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner, Result

from bucketsync.cli import app, main
from bucketsync.cli.common import parse_s3_uri
from bucketsync.settings import Settings

SECRET = "supersecret-0123456789"
KEY_ID = "AKIDEXAMPLEKEYID0001"
WIDE = {"COLUMNS": "300", "FORCE_COLOR": None, "TTY_COMPATIBLE": None}


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env={**WIDE, **(env or {})})


# --- Settings --------------------------------------------------------------------------------


def test_defaults_are_the_documented_ones() -> None:
    # conftest removed every BUCKETSYNC_* variable: these are the README's defaults.
    settings = Settings()
    assert settings.endpoint_url is None
    assert settings.region == "us-east-1"
    assert settings.table == "bucketsync-catalog"
    assert settings.queue_url is None
    assert settings.lean is False
    assert settings.ordering == "auto"
    assert settings.tombstone_ttl_days == 30
    assert (settings.preview, settings.tags, settings.journal) == (False, False, False)
    assert settings.worker_threads == 4
    assert settings.log_format == "auto"
    assert settings.access_key_id is None and settings.secret_access_key is None


def test_settings_read_bucketsync_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "BUCKETSYNC_ENDPOINT_URL": "http://127.0.0.1:5000",
        "BUCKETSYNC_REGION": "eu-west-1",
        "BUCKETSYNC_TABLE": "my-catalog",
        "BUCKETSYNC_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
        "BUCKETSYNC_LEAN": "true",
        "BUCKETSYNC_ORDERING": "observed",
        "BUCKETSYNC_TOMBSTONE_TTL_DAYS": "1.5",
        "BUCKETSYNC_JOURNAL": "1",
        "BUCKETSYNC_WORKER_THREADS": "8",
        "BUCKETSYNC_LOG_LEVEL": "debug",
        "BUCKETSYNC_LOG_FORMAT": "json",
        "BUCKETSYNC_ACCESS_KEY_ID": KEY_ID,
        "BUCKETSYNC_SECRET_ACCESS_KEY": SECRET,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.endpoint_url == "http://127.0.0.1:5000"
    assert settings.region == "eu-west-1"
    assert settings.table == "my-catalog"
    assert settings.queue_url == env["BUCKETSYNC_QUEUE_URL"]
    assert settings.lean is True
    assert settings.ordering == "observed"
    assert settings.tombstone_ttl_days == 1.5
    assert settings.journal is True
    assert settings.worker_threads == 8
    assert settings.log_level == "DEBUG"  # normalised
    assert settings.log_format == "json"
    assert isinstance(settings.secret_access_key, SecretStr)
    assert settings.secret_access_key.get_secret_value() == SECRET
    assert settings.access_key_id is not None
    assert settings.access_key_id.get_secret_value() == KEY_ID


def test_variables_without_the_prefix_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE", "nope")
    monkeypatch.setenv("QUEUE_URL", "nope")
    settings = Settings()
    assert settings.table == "bucketsync-catalog"
    assert settings.queue_url is None


def test_override_applies_only_the_values_given() -> None:
    base = Settings(region="eu-west-1", table="t1", lean=True, worker_threads=2)
    changed = base.override(
        table="t2", region=None, lean=False, queue_url=None, worker_threads=None
    )
    # None means "flag not given"; False is a value like any other
    assert changed.table == "t2"
    assert changed.lean is False
    assert changed.region == "eu-west-1"
    assert changed.worker_threads == 2
    assert changed.queue_url is None
    # the original is untouched (settings are frozen)
    assert (base.table, base.lean) == ("t1", True)


def test_override_with_nothing_given_returns_the_same_settings() -> None:
    base = Settings(table="t1")
    assert base.override() is base
    assert base.override(table=None, region=None) is base


def test_override_keeps_secrets_and_the_environment_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BUCKETSYNC_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("BUCKETSYNC_TABLE", "from-env")
    base = Settings()
    monkeypatch.setenv("BUCKETSYNC_TABLE", "changed-later")  # an override does not re-read env
    changed = base.override(region="ap-south-1")
    assert changed.table == "from-env"
    assert changed.secret_access_key is not None
    assert changed.secret_access_key.get_secret_value() == SECRET


def test_override_validates_its_values() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Settings().override(worker_threads=0)
    assert [error["loc"] for error in excinfo.value.errors()] == [("worker_threads",)]


def test_the_emulator_defaults_apply_only_where_the_user_set_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN no write mode or ordering set: the emulator's own (item by item, observed)
    assert (Settings().for_emulator().write_mode, Settings().for_emulator().ordering) == (
        "single",
        "observed",
    )
    # GIVEN both set by their variables, and a flag overriding something else afterwards
    monkeypatch.setenv("BUCKETSYNC_WRITE_MODE", "transact")
    monkeypatch.setenv("BUCKETSYNC_ORDERING", "sequencer")
    given = Settings().override(region="eu-west-1", log_level="DEBUG")
    # WHEN the local stack takes them THEN the user's choices stand
    local = given.for_emulator()
    assert (local.write_mode, local.ordering, local.region) == (
        "transact",
        "sequencer",
        "eu-west-1",
    )


def test_the_service_keeps_no_catalog_unless_the_user_asked_for_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN nothing set: the service runs without the catalog
    monkeypatch.delenv("BUCKETSYNC_CATALOG", raising=False)
    assert Settings().for_service().catalog is False
    # GIVEN BUCKETSYNC_CATALOG set, even to the default's value, and a flag applied afterwards
    monkeypatch.setenv("BUCKETSYNC_CATALOG", "true")
    given = Settings().override(bucket="b")
    # WHEN the service takes them THEN the user's choice stands
    assert (given.for_service().catalog, given.for_service().bucket) == (True, "b")


def test_unless_set_tells_a_value_set_to_the_default_from_no_value() -> None:
    # GIVEN a field set to its default's value, and one not set at all
    base = Settings(ordering="auto").override(table="t1")
    # WHEN defaults are offered for both THEN only the unset one takes its
    changed = base.unless_set(ordering="observed", write_mode="transact")
    assert (changed.ordering, changed.write_mode, changed.table) == ("auto", "transact", "t1")


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.table = "other"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BUCKETSYNC_WORKER_THREADS", "0"),
        ("BUCKETSYNC_WORKER_THREADS", "many"),
        ("BUCKETSYNC_WAIT_TIME_SECONDS", "21"),
        ("BUCKETSYNC_ORDERING", "random"),
        ("BUCKETSYNC_LOG_FORMAT", "xml"),
        ("BUCKETSYNC_TOMBSTONE_TTL_DAYS", "0"),
        ("BUCKETSYNC_LEAN", "maybe"),
        ("BUCKETSYNC_CONCURRENCY", "1000"),
        ("BUCKETSYNC_MAX_ATTEMPTS", "0"),
        ("BUCKETSYNC_VISIBILITY_TIMEOUT", "-1"),
    ],
)
def test_an_invalid_value_fails_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    field = variable.removeprefix("BUCKETSYNC_").lower()
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as excinfo:
        Settings()
    assert [error["loc"] for error in excinfo.value.errors()] == [(field,)]
    assert field in str(excinfo.value)


def test_an_unknown_log_level_fails_naming_the_field() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Settings(log_level="loud")
    assert "log_level" in str(excinfo.value)


def test_redacted_never_contains_secret_values() -> None:
    settings = Settings(access_key_id=SecretStr(KEY_ID), secret_access_key=SecretStr(SECRET))
    shown = repr(settings.redacted())
    assert SECRET not in shown and KEY_ID not in shown
    assert SECRET not in repr(settings) and SECRET not in str(settings)


def test_every_setting_has_a_meaning() -> None:
    undocumented = [n for n, f in Settings.model_fields.items() if not f.description]
    assert undocumented == []


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


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["bucketsync", *args])
    with pytest.raises(SystemExit) as excinfo:
        main()
    code = excinfo.value.code
    assert isinstance(code, int)
    return code


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


# --- parse_s3_uri ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/key", ("bucket", "key")),
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket/a/b/", ("bucket", "a/b/")),
        ("s3://bucket/a/b/c.txt", ("bucket", "a/b/c.txt")),
        ("s3://my.bucket-1/k", ("my.bucket-1", "k")),
        ("s3://bucket/with space.txt", ("bucket", "with space.txt")),
        ("s3://bucket/a+b.txt", ("bucket", "a+b.txt")),  # '+' is not a space
        ("s3://bucket/a%20b.txt", ("bucket", "a%20b.txt")),  # no percent-decoding
        ("s3://bucket/ünïcødé €.txt", ("bucket", "ünïcødé €.txt")),
        ("s3://bucket/a#b", ("bucket", "a#b")),  # '#' is part of the key, not a fragment
        ("s3://bucket/a?b=c", ("bucket", "a?b=c")),  # '?' is part of the key, not a query
        ("s3://bucket/#", ("bucket", "#")),
        ("s3://bucket/?", ("bucket", "?")),
        ("s3://bucket/x?y#z?w", ("bucket", "x?y#z?w")),
        ("s3://bucket/a;b", ("bucket", "a;b")),
        ("s3://bucket//leading-slash", ("bucket", "/leading-slash")),
        ("s3://bucket/trailing space ", ("bucket", "trailing space ")),
    ],
)
def test_parse_s3_uri(uri: str, expected: tuple[str, str]) -> None:
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "http://x",
        "https://bucket.s3.amazonaws.com/key",
        "s3://",
        "s3:///key",
        "s3:/bucket/key",
        "s3:bucket/key",
        "bucket/key",
        "/local/path",
        "file:///tmp/x",
    ],
)
def test_parse_s3_uri_refuses_what_is_not_an_s3_uri(uri: str) -> None:
    with pytest.raises(typer.BadParameter, match="expected s3://bucket/key"):
        parse_s3_uri(uri)


@pytest.mark.parametrize(
    ("uri", "unshifted"),
    [
        (" s3://bucket/key", ("bucket", "key")),
        ("\ns3://bucket/key", ("bucket", "key")),
        ("s3://buc\tket/key", ("buc\tket", "key")),
    ],
)
def test_parse_s3_uri_never_returns_a_shifted_key(uri: str, unshifted: tuple[str, str]) -> None:
    try:
        parsed = parse_s3_uri(uri)
    except typer.BadParameter:
        return  # refusing is fine
    assert parsed == unshifted


def test_the_sync_services_own_variable_names_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    seed = {
        "LOCAL_DOWNLOAD_DIR": "/srv/mirror",
        "SYNC_INTERVAL_HOURS": "0.5",
        "ENABLE_PERIODIC_SYNC": "false",
        "MAX_FILE_SIZE_MB": "12",
        "SKIP_EXISTING_FILES": "false",
        "VERIFY_FILE_INTEGRITY": "false",
        "DOWNLOAD_TIMEOUT_SECONDS": "7",
        "RETRY_ATTEMPTS": "5",
        "API_HOST": "0.0.0.0",
        "API_PORT": "9999",
        "LOG_LEVEL": "debug",
    }
    for name, value in seed.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.mirror_dir == "/srv/mirror"
    assert (settings.sync_interval_hours, settings.periodic_sync) == (0.5, False)
    assert (settings.max_file_size_mb, settings.skip_existing) == (12, False)
    assert (settings.verify_integrity, settings.download_timeout_seconds) == (False, 7)
    assert (settings.retry_attempts, settings.api_host, settings.api_port) == (5, "0.0.0.0", 9999)
    assert settings.log_level == "DEBUG"
    # BUCKETSYNC_* wins over the seed's name; a flag wins over both.
    monkeypatch.setenv("BUCKETSYNC_API_PORT", "7000")
    assert Settings().api_port == 7000
    assert Settings().override(api_port=7001).api_port == 7001
