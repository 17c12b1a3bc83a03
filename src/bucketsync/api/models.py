"""The service's response bodies, as pydantic models (they are its OpenAPI schema).

Field names of ``Health`` and ``SyncResult`` are seed 004's, so clients of the service it
replaces keep working; everything else is new.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class FieldProblem(BaseModel):
    """One request field that failed validation (FastAPI's shape, minus the echoed input)."""

    type: str
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """Every refusal: a message a person can act on, or (422) the fields that were wrong."""

    detail: str | list[FieldProblem] = Field(
        description="What was wrong and, where it helps, what to do instead."
    )


class Link(BaseModel):
    href: str
    description: str


class ServiceInfo(BaseModel):
    service: Literal["bucketsync"] = "bucketsync"
    version: str
    bucket: str | None
    mirror_dir: str
    auth: bool = Field(description="Whether the mutating routes require credentials.")
    links: dict[str, Link]


class Pong(BaseModel):
    status: Literal["ok"] = "ok"
    timestamp: datetime


class QueueStatus(BaseModel):
    """The SQS queue the service polls itself (``BUCKETSYNC_QUEUE_URL``)."""

    queue_url: str
    running: bool
    received: int = Field(description="Messages received since start.")
    succeeded: int = Field(
        description=(
            "Messages done with and deleted from the queue: applied, or holding nothing to "
            "apply (an s3:TestEvent)."
        )
    )
    failed: int = Field(description="Messages not applied: back to the queue, later the DLQ.")
    failing_polls: int = Field(description="Polls that failed in a row, up to now.")
    last_error: str | None
    last_error_at: datetime | None
    last_poll_at: datetime | None


S3Status = Literal["ok", "unreachable", "no_such_bucket", "access_denied", "error"]


class Health(BaseModel):
    status: Literal["healthy", "unhealthy"]
    message: str
    s3_connection: bool
    download_directory: str
    directory_writable: bool
    timestamp: datetime
    s3_status: S3Status = Field(
        description=(
            "ok; unreachable (no answer, or throttled: retry); no_such_bucket; access_denied "
            "(the credentials may not read the bucket); error (any other answer)."
        )
    )
    queue: QueueStatus | None = Field(
        default=None, description="The queue the service polls, when one is configured."
    )


class AuthInfo(BaseModel):
    bearer: bool = Field(description="An API token is configured.")
    hmac: bool = Field(description="An HMAC secret is configured.")
    required: bool = Field(description="POST routes refuse requests without credentials.")
    loopback_only: bool = Field(description="No credentials: the service binds loopback only.")


class ConfigView(BaseModel):
    settings: dict[str, Any] = Field(description="Every setting; secrets shown as asterisks.")
    auth: AuthInfo


class SyncDetail(BaseModel):
    operation: str
    file_key: str
    status: str
    message: str


class SyncSummary(BaseModel):
    """One full sync, however it was started (HTTP, periodic)."""

    status: Literal["success", "partial", "failed"]
    message: str
    processed_files: int = Field(description="Objects listed in the bucket under the prefix.")
    successful_operations: int
    failed_operations: int
    downloaded: int
    skipped: int
    deleted: int
    refused: int = Field(description="Keys the mirror cannot write safely (see the details).")
    deletes_refused: bool = Field(description="The run saw errors, so it deleted nothing.")
    untracked: int = Field(description="Files in the directory that no object accounts for.")
    seconds: float
    errors: list[str]


class SyncResult(SyncSummary):
    sync_details: list[SyncDetail]
    details_truncated: bool = Field(
        description="More operations happened than sync_details lists (see the log)."
    )


class SyncFailure(Problem):
    """A full sync that got nothing done: why, and what it saw."""

    result: SyncResult


class SyncJob(BaseModel):
    job_id: str
    prefix: str
    state: Literal["running", "done", "partial", "failed"] = Field(
        description=(
            "done: every operation succeeded; partial: some failed (see result); failed: "
            "nothing could be done, or the run broke off (see error)."
        )
    )
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    result: SyncSummary | None = None


class NotificationResult(BaseModel):
    status: Literal["applied", "ignored"]
    message: str
    changes: int = Field(description="Changes the body carried (after envelopes were peeled).")
    keys: int = Field(description="Distinct keys those changes touched.")
    outcomes: dict[str, dict[str, int]] = Field(description="Per sink: outcome → how many keys.")


class FileInfo(BaseModel):
    key: str
    size: int | None
    etag: str | None
    last_modified: datetime | None = None


class FileList(BaseModel):
    source: Literal["s3", "local"]
    prefix: str
    files: list[FileInfo]
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null on the last page."
    )


class NotificationCounters(BaseModel):
    received: int
    applied: int
    ignored: int = Field(description="Bodies without object changes (an s3:TestEvent).")
    failed: int


class Stats(BaseModel):
    uptime_seconds: float
    started_at: datetime
    notifications: NotificationCounters
    mirror: dict[str, int] = Field(description="The mirror sink's counters since start.")
    store: dict[str, int] = Field(description="What the mirror's store holds.")
    sync_running: bool
    last_sync: SyncSummary | None
    last_sync_source: Literal["api", "periodic"] | None
    queue: QueueStatus | None = Field(
        default=None, description="The queue the service polls, when one is configured."
    )


class ActivityMinute(BaseModel):
    start: datetime
    events: int = Field(description="Object changes the mirror was handed in this minute.")
    applied: int
    failed: int
    lag_seconds_avg: float | None = Field(
        description="From the event's time to its file written (or removed), on average."
    )
    lag_seconds_max: float | None


class ActivityChange(BaseModel):
    at: datetime
    key: str
    action: Literal["download", "delete"]
    outcome: str = Field(description="applied, skipped, stale, rejected or failed.")
    event: str | None = Field(description="The S3 event name, e.g. ObjectCreated:Put.")
    lag_seconds: float | None


class ActivityError(BaseModel):
    at: datetime
    source: str = Field(description="mirror, notification, queue or sync.")
    key: str | None
    message: str


class LastSync(BaseModel):
    status: Literal["success", "partial", "failed"]
    message: str
    source: Literal["api", "periodic"]
    finished_at: datetime


class ActivityView(BaseModel):
    """The status page's feed: the mirror at a glance and the last hour, minute by minute."""

    generated_at: datetime
    bucket: str | None
    objects: int = Field(description="Files the mirror holds.")
    bytes: int = Field(description="Their size.")
    last_sync: LastSync | None
    sync_running: bool
    notifications: NotificationCounters
    queue: QueueStatus | None
    minutes: list[ActivityMinute] = Field(description="The last hour, oldest first.")
    changes: list[ActivityChange] = Field(description="Most recent first.")
    errors: list[ActivityError] = Field(description="Most recent first.")
