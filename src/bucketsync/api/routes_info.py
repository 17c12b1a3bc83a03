"""Reads about the service itself: ``/`` (JSON, or the status page for a browser), ``/ping``,
health, configuration, statistics, and the status page's activity feed."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response, status
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from bucketsync import __version__
from bucketsync.api.deps import ServiceDep
from bucketsync.api.models import (
    ActivityView,
    ConfigView,
    Health,
    Link,
    Pong,
    ServiceInfo,
    Stats,
)
from bucketsync.api.page import status_page, wants_html

router = APIRouter()

LINKS = {
    "docs": ("/docs", "OpenAPI documentation (interactive)"),
    "openapi": ("/openapi.json", "The OpenAPI document"),
    "health": ("/api/v1/health", "S3 reachable, mirror directory writable"),
    "config": ("/api/v1/config", "Effective settings, secrets redacted"),
    "stats": ("/api/v1/stats", "Counters, the last full sync"),
    "files": ("/api/v1/files?source=s3", "List the bucket or the mirror"),
    "sync": ("/api/v1/sync", "POST: run a full sync"),
    "notifications": ("/api/v1/s3-notification", "POST: S3 event notifications"),
    "activity": ("/api/v1/activity", "The status page's feed: the last hour, recent changes"),
}


@router.get(
    "/",
    tags=["service"],
    response_model=ServiceInfo,
    responses={
        200: {
            "content": {"text/html": {"schema": {"type": "string"}}},
            "description": "JSON; the status page when Accept prefers text/html (a browser).",
        }
    },
)
def root(service: ServiceDep, request: Request, response: Response) -> ServiceInfo | HTMLResponse:
    """What this service is, and where its routes are; a browser gets the status page."""
    # The server's own prefix (behind a proxy), never the Host header: links a client is
    # handed must not point wherever a forged Host says.
    prefix = str(request.scope.get("root_path", "")).rstrip("/")
    if wants_html(request.headers.get("accept", "")):
        return status_page(prefix)
    response.headers["Vary"] = "Accept"
    return ServiceInfo(
        version=__version__,
        bucket=service.settings.bucket,
        mirror_dir=str(service.parts.mirror.root),
        auth=service.config().auth.required,
        links={
            name: Link(href=prefix + path, description=text) for name, (path, text) in LINKS.items()
        },
    )


@router.get("/ping", tags=["service"])
def ping() -> Pong:
    """Answers as long as the process serves HTTP; touches nothing else."""
    return Pong(timestamp=datetime.now(UTC))


@router.get(
    "/api/v1/health",
    tags=["service"],
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Health}},
)
def health(service: ServiceDep, response: Response) -> Health:
    """200 when S3 answers and the mirror directory takes a new file; 503 otherwise."""
    result = service.health()
    if result.status != "healthy":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return result


@router.get("/api/v1/config", tags=["service"])
def config(service: ServiceDep) -> ConfigView:
    """Every setting (secrets as asterisks), and whether the POST routes need credentials."""
    return service.config()


@router.get("/api/v1/stats", tags=["service"])
def stats(service: ServiceDep) -> Stats:
    """Notifications received, the mirror's counters and contents, the last full sync."""
    return service.stats()


# Out of the OpenAPI document for now: it feeds the page, and its shape may still change.
@router.get("/api/v1/activity", tags=["service"], include_in_schema=False)
async def activity(service: ServiceDep) -> ActivityView:
    """Objects and bytes mirrored, the last full sync, per-minute events and lag over the last
    hour, the recent changes and errors. No S3 call: cheap to ask every few seconds."""
    return await run_in_threadpool(service.activity_view)
