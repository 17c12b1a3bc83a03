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


class Health(BaseModel):
    status: Literal["healthy", "unhealthy"]
    message: str
    s3_connection: bool
    download_directory: str
    directory_writable: bool
    timestamp: datetime


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


class SyncJob(BaseModel):
    job_id: str
    prefix: str
    state: Literal["running", "done", "failed"]
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
