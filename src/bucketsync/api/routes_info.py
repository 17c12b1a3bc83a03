"""Reads about the service itself: ``/``, ``/ping``, health, configuration, statistics."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response, status

from bucketsync import __version__
from bucketsync.api.deps import ServiceDep
from bucketsync.api.models import ConfigView, Health, Link, Pong, ServiceInfo, Stats

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
}


@router.get("/", tags=["service"])
def root(service: ServiceDep, request: Request) -> ServiceInfo:
    """What this service is, and where its routes are."""
    base = str(request.base_url).rstrip("/")
    return ServiceInfo(
        version=__version__,
        bucket=service.settings.bucket,
        mirror_dir=str(service.parts.mirror.root),
        auth=service.config().auth.required,
        links={
            name: Link(href=base + path, description=text) for name, (path, text) in LINKS.items()
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
