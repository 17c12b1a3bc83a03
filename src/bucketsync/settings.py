"""One settings object, read from ``BUCKETSYNC_*`` environment variables; CLI flags override it."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bucketsync import redact
from bucketsync.errors import ConfigurationError
from bucketsync.record_routes import parse_routes

ORDERING_MODES = ("auto", "sequencer", "observed")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The sync service's own names (seed 004), accepted beside BUCKETSYNC_*; BUCKETSYNC_* wins.
SEED_NAMES = {
    "mirror_dir": "LOCAL_DOWNLOAD_DIR",
    "sync_interval_hours": "SYNC_INTERVAL_HOURS",
    "periodic_sync": "ENABLE_PERIODIC_SYNC",
    "max_file_size_mb": "MAX_FILE_SIZE_MB",
    "skip_existing": "SKIP_EXISTING_FILES",
    "verify_integrity": "VERIFY_FILE_INTEGRITY",
    "download_timeout_seconds": "DOWNLOAD_TIMEOUT_SECONDS",
    "retry_attempts": "RETRY_ATTEMPTS",
    "api_host": "API_HOST",
    "api_port": "API_PORT",
    "log_level": "LOG_LEVEL",
    "bucket": "S3_BUCKET_NAME",
    "api_endpoint": "API_ENDPOINT",
    "timeout_seconds": "TIMEOUT_SECONDS",
}


def _also(name: str) -> AliasChoices:
    """``BUCKETSYNC_<NAME>`` first, then the seed's name, then the field's own (for overrides)."""
    return AliasChoices(f"BUCKETSYNC_{name.upper()}", SEED_NAMES[name], name)


MIN_SECRET_LENGTH = 16  # a random 16-character token carries ~96 bits (base64) or 64 (hex)


class Settings(BaseSettings):
    """Every knob bucketsync has; field descriptions are the reference (``bucketsync config``)."""

    model_config = SettingsConfigDict(
        env_prefix="BUCKETSYNC_", extra="ignore", frozen=True, populate_by_name=True
    )

    # --- where AWS is
    region: str = Field(
        default="us-east-1",
        description="AWS region of the bucket, queue and table.",
    )
    endpoint_url: str | None = Field(
        default=None,
        description="Send every AWS call here (the local emulator). Unset: real AWS.",
    )
    access_key_id: SecretStr | None = Field(
        default=None, description="Only for the emulator; on AWS use the default credential chain."
    )
    secret_access_key: SecretStr | None = Field(default=None, description="See access_key_id.")
    max_attempts: int = Field(default=8, ge=1, description="botocore retry attempts (adaptive).")
    max_pool_connections: int = Field(default=32, ge=1, description="HTTP connections per client.")

    # --- what to sync
    table: str = Field(default="bucketsync-catalog", description="DynamoDB catalog table.")
    queue_url: str | None = Field(default=None, description="SQS queue the worker polls.")

    # --- how to sync
    lean: bool = Field(
        default=False,
        description=(
            "Trust the event's size and etag and skip HeadObject. Needs S3 sequencers; "
            "content type and user metadata stay empty."
        ),
    )
    ordering: Literal["auto", "sequencer", "observed"] = Field(
        default="auto",
        description=(
            "auto: order by the event's sequencer when it has one, else by observation. "
            "observed: always HeadObject and order by observation time (emulators)."
        ),
    )
    tombstone_ttl_days: float = Field(
        default=30.0,
        gt=0,
        description="How long a delete's tombstone lives; must exceed the longest event delay.",
    )
    preview: bool = Field(default=False, description="Store the first 500 characters of text.")
    preview_chars: int = Field(
        default=500, ge=1, le=100_000, description="How many characters the preview keeps."
    )
    tags: bool = Field(default=False, description="Store object tags (one GetObjectTagging each).")
    journal: bool = Field(default=False, description="Also keep one item per version (journal).")
    journal_ttl_days: float = Field(default=90.0, gt=0, description="Journal items expire after.")
    write_mode: Literal["transact", "single"] = Field(
        # AWS bills write units, not requests: single costs 1 per item, transact 2
        # (bench/RESULTS.md 3.4), so the cheaper one is the default.
        default="single",
        description=(
            "single: one conditional PutItem per item, sent concurrently (1 write unit per "
            "item: the cheapest). transact: a batch's conditional writes go out as one "
            "TransactWriteItems (few requests, 2 write units per item)."
        ),
    )
    concurrency: int = Field(
        default=16, ge=1, le=256, description="Parallel S3 lookups, and writes in single mode."
    )

    # --- records (which objects' rows load into which tables: bucketsync.record_routes)
    routes: str | None = Field(
        default=None,
        description='Routing rules as JSON: [{"match": "data/**/*.jsonl", "table": "orders"}].',
    )
    routes_file: str | None = Field(default=None, description="A JSON file of routing rules.")
    catalog: bool = Field(default=True, description="Keep the catalog of every object.")

    # --- reconcile (bucketsync reconcile; flags override)
    reconcile_workers: int = Field(
        default=32, ge=1, le=256, description="Reconcile: repairs in flight at once."
    )
    reconcile_shards: int = Field(
        default=4, ge=1, le=1024, description="Reconcile: key ranges listed at once."
    )
    reconcile_page_size: int = Field(
        default=1000, ge=1, le=1000, description="Reconcile: keys per ListObjectsV2 page."
    )
    reconcile_queue_url: str | None = Field(
        default=None,
        description="Reconcile in Lambda: the SQS queue a plan hands its shards out through.",
    )
    reconcile_margin_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Reconcile in Lambda: stop and checkpoint this long before the deadline.",
    )
    reconcile_interval_hours: float | None = Field(
        default=None,
        gt=0,
        description=(
            "The worker reconciles its sinks with the bucket (BUCKETSYNC_BUCKET) at start and "
            "every this many hours; unset: only once after a lasting fault clears."
        ),
    )
    reconcile_write_mode: Literal["single", "transact"] = Field(
        default="single",
        description=(
            "Reconcile's catalog writes. single: one conditional PutItem per object (1 write "
            "unit each: what DynamoDB bills). transact: 100 per TransactWriteItems (2 write "
            "units each, far fewer requests and less CPU)."
        ),
    )

    # --- worker
    worker_threads: int = Field(default=4, ge=1, le=64, description="Batches in flight.")
    wait_time_seconds: int = Field(default=20, ge=0, le=20, description="SQS long poll.")
    visibility_timeout: int | None = Field(
        default=None, ge=0, le=43200, description="SQS visibility timeout; unset: the queue's."
    )

    # --- the local mirror and the sync service (seed 004's names accepted, see SEED_NAMES)
    bucket: str | None = Field(
        default=None,
        validation_alias=_also("bucket"),
        description="The bucket the mirror and the service sync (full sync, file listing).",
    )
    mirror_dir: str | None = Field(
        default=None,
        validation_alias=_also("mirror_dir"),
        description="Mirror objects into this directory (unset: no mirror).",
    )
    mirror_prefix: str = Field(default="", description="Mirror only keys under this prefix.")
    sync_interval_hours: float = Field(
        default=1.0,
        gt=0,
        validation_alias=_also("sync_interval_hours"),
        description="Hours between two full syncs of the mirror.",
    )
    periodic_sync: bool = Field(
        default=True,
        validation_alias=_also("periodic_sync"),
        description="Run the periodic full sync (the service).",
    )
    max_file_size_mb: float = Field(
        default=1000.0,
        gt=0,
        validation_alias=_also("max_file_size_mb"),
        description="Objects larger than this are not mirrored (logged).",
    )
    skip_existing: bool = Field(
        default=True,
        validation_alias=_also("skip_existing"),
        description="Skip objects whose size and etag the mirror already holds.",
    )
    verify_integrity: bool = Field(
        default=True,
        validation_alias=_also("verify_integrity"),
        description="Check MD5 (single-part etags) and S3's additional checksums on download.",
    )
    download_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        validation_alias=_also("download_timeout_seconds"),
        description="Read timeout of one download.",
    )
    retry_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        validation_alias=_also("retry_attempts"),
        description="Attempts of a download, and of the forwarder's POST.",
    )
    api_host: str = Field(
        default="127.0.0.1",
        validation_alias=_also("api_host"),
        description="Address the service listens on; not loopback only with a token or secret.",
    )
    api_port: int = Field(
        default=8888, ge=0, le=65535, validation_alias=_also("api_port"), description="Its port."
    )
    api_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token the service requires on every route but /ping and the health probe "
            "(16 characters at least; empty means unset)."
        ),
    )
    hmac_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Shared secret: the forwarder signs its POSTs with it, the service checks (16 "
            "characters at least; empty means unset)."
        ),
    )
    open_reads: bool = Field(
        default=False,
        description=(
            "With a token or secret set, every route but /ping and the health probe needs "
            "them; true lets GETs (listings, downloads, stats) through without."
        ),
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Host names the service answers to besides the addresses it listens on (a proxy's "
            "public name); any other Host header is refused (DNS rebinding). JSON list."
        ),
    )
    hmac_secret_parameter: str | None = Field(
        default=None,
        description=(
            "The forwarder reads its HMAC secret from this SSM SecureString at a cold start "
            "(the deployed stack's way: no secret in the function's environment)."
        ),
    )
    api_endpoint: str | None = Field(
        default=None,
        validation_alias=_also("api_endpoint"),
        description=(
            "The forwarding Lambda POSTs events to <this>/api/v1/s3-notification "
            "(a query in it is kept, and signed)."
        ),
    )
    timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias=_also("timeout_seconds"),
        description="The forwarder's timeout for one POST.",
    )

    # --- logs
    log_level: str = Field(
        default="INFO",
        validation_alias=_also("log_level"),
        description="DEBUG, INFO, WARNING, ERROR or CRITICAL.",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="auto: JSON in Lambda, readable lines on a terminal."
    )

    @field_validator("api_token", "hmac_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """``BUCKETSYNC_API_TOKEN=`` means no token, never "the empty token": an empty secret
        is no secret, and must neither be accepted as a key nor lift the loopback guard."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str) and not raw.strip():
            return None
        return value

    @field_validator("api_token", "hmac_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"is {len(value.get_secret_value())} characters: at least {MIN_SECRET_LENGTH} "
                "are needed to resist guessing (e.g. `openssl rand -hex 32`)"
            )
        return value

    @field_validator("endpoint_url", mode="before")
    @classmethod
    def _empty_endpoint_is_unset(cls, value: Any) -> Any:
        """``BUCKETSYNC_ENDPOINT_URL=`` means real AWS, as unset does."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_a_url(cls, value: str | None) -> str | None:
        """botocore takes ``127.0.0.1:5000`` and fails at the first call, deep in a stack
        trace; say what is wrong where the setting is read."""
        if value is None:
            return value
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"{redact.url(value)!r} is not an http:// or https:// URL with a host "
                "(e.g. http://127.0.0.1:5000)"
            )
        return value.strip()

    @field_validator("routes")
    @classmethod
    def _routes_parse(cls, value: str | None) -> str | None:
        """Rules that cannot parse are refused at start (and by ``bucketsync config``), not
        at the first object they would have matched."""
        if value is not None and value.strip():
            try:
                parse_routes(value, source="")
            except ConfigurationError as exc:  # named by the field already: no source twice
                raise ValueError(str(exc).removeprefix(": ")) from None
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    def override(self, **changes: Any) -> Settings:
        """A copy with CLI flags applied; ``None`` means "flag not given"."""
        given = {k: v for k, v in changes.items() if v is not None}
        if not given:
            return self
        changed = type(self).model_validate({**self.model_dump(), **given})
        # What the user set (a variable, a flag) stays told apart from a default, for
        # ``unless_set``: not every field the copy was made from.
        object.__setattr__(changed, "__pydantic_fields_set__", self.model_fields_set | set(given))
        return changed

    def unless_set(self, **defaults: Any) -> Settings:
        """A copy in which each field of ``defaults`` the user did not set (by its
        ``BUCKETSYNC_*`` variable or a flag) takes the value given, not its own default."""
        return self.override(
            **{name: value for name, value in defaults.items() if name not in self.model_fields_set}
        )

    def for_emulator(self) -> Settings:
        """These settings as the local emulator stack runs them (``bucketsync local up``):
        unless ``BUCKETSYNC_WRITE_MODE`` says otherwise, writes go item by item (on moto a
        transaction costs time in proportion to the table: docs/performance.md); unless
        ``BUCKETSYNC_ORDERING`` does, events are ordered by observation, whatever they claim
        (moto sends no sequencers, and EventBridge a fixed fake one: docs/ordering.md)."""
        return self.unless_set(write_mode="single", ordering="observed")

    def for_service(self) -> Settings:
        """These settings as the HTTP sync service runs them (``bucketsync serve``): it mirrors
        and needs no DynamoDB table, so the catalog is off unless ``BUCKETSYNC_CATALOG`` (or
        whoever built these settings) says otherwise."""
        return self.unless_set(catalog=False)

    def redacted(self) -> dict[str, Any]:
        """Settings as a dict safe to log or print: secrets as asterisks, and credentials
        inside URL values (a password, an ``api_key=`` parameter) as ``***``."""
        shown: dict[str, Any] = redact.urls_in(self.model_dump(mode="json"))
        return shown
