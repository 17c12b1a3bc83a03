"""``Settings``: the environment (``BUCKETSYNC_*`` and the sync service's own names), overrides,
the emulator's and the service's defaults, validation, and secrets kept out of sight."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from bucketsync.settings import Settings
from tests.unit.configuring import KEY_ID, SECRET

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
