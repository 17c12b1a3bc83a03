"""One settings object, read from ``BUCKETSYNC_*`` environment variables; CLI flags override it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ORDERING_MODES = ("auto", "sequencer", "observed")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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
        default="transact",
        description=(
            "transact: a batch's conditional writes go out as one TransactWriteItems "
            "(few requests, 2 write units per item). single: one conditional PutItem per "
            "item, sent concurrently (1 write unit per item; fastest on the emulator)."
        ),
    )
    concurrency: int = Field(
        default=16, ge=1, le=256, description="Parallel S3 lookups, and writes in single mode."
    )

    # --- records (which objects' rows load into which tables: bucketsync.routes)
    routes: str | None = Field(
        default=None,
        description='Routing rules as JSON: [{"match": "data/**/*.jsonl", "table": "orders"}].',
    )
    routes_file: str | None = Field(default=None, description="A JSON file of routing rules.")
    catalog: bool = Field(default=True, description="Keep the catalog of every object.")

    # --- worker
    worker_threads: int = Field(default=4, ge=1, le=64, description="Batches in flight.")
    wait_time_seconds: int = Field(default=20, ge=0, le=20, description="SQS long poll.")
    visibility_timeout: int | None = Field(
        default=None, ge=0, le=43200, description="SQS visibility timeout; unset: the queue's."
    )

    # --- logs
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="auto: JSON in Lambda, readable lines on a terminal."
    )

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
        return type(self).model_validate({**self.model_dump(), **given})

    def redacted(self) -> dict[str, Any]:
        """Settings as a dict safe to log or print."""
        return self.model_dump(mode="json")
