"""The mutating routes: a full sync on demand, and S3 event notifications (the webhook)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bucketsync.api.auth import Authenticated, read_body
from bucketsync.api.deps import ServiceDep, problems
from bucketsync.api.errors import RETRY_AFTER_SECONDS
from bucketsync.api.jobs import result_of
from bucketsync.api.models import NotificationResult, SyncFailure, SyncJob, SyncResult
from bucketsync.errors import NotFoundError

router = APIRouter(tags=["sync"])

MAX_KEY_LENGTH = 1024  # S3's limit on a key, so on a prefix too

NOTIFICATION_BODY = {
    "required": True,
    "description": (
        "Any envelope the event path accepts: an S3 notification (Records), an SQS message "
        "or Lambda SQS event, an SNS notification or Lambda SNS event, an EventBridge event, "
        "or an s3:TestEvent."
    ),
    "content": {"application/json": {"schema": {"type": "object"}}},
}


@router.post(
    "/api/v1/sync",
    dependencies=[Authenticated],
    response_model=None,
    responses={
        status.HTTP_200_OK: {"model": SyncResult, "description": "The sync ran (foreground)."},
        status.HTTP_202_ACCEPTED: {"model": SyncJob, "description": "The sync started."},
        **problems(401, 403, 409, 422),
        status.HTTP_502_BAD_GATEWAY: {
            "model": SyncFailure,
            "description": "The sync got nothing done: S3 answered, but every operation failed.",
        },
        status.HTTP_503_SERVICE_UNAVAILABLE: {
            "model": SyncFailure,
            "description": (
                "The sync got nothing done: S3 is unreachable, the bucket does not exist, or "
                "access is denied (Retry-After)."
            ),
        },
    },
)
def sync(
    service: ServiceDep,
    response: Response,
    prefix: Annotated[
        str, Query(max_length=MAX_KEY_LENGTH, description="Sync only keys under this prefix.")
    ] = "",
    background: Annotated[
        bool, Query(description="Answer 202 at once; GET /api/v1/sync/{job_id} tells the rest.")
    ] = False,
) -> SyncResult | SyncJob | JSONResponse:
    """Make the mirror equal the bucket (under ``prefix``): download, and remove what is gone.

    One full sync at a time: 409 while one runs (this route's or the periodic one). 200 when
    it ran, ``status`` "success" or "partial" (some operations failed: see ``errors``); a sync
    that got nothing done is 503 (S3 unreachable, no such bucket, access denied) or 502.
    """
    if background:
        job = service.runner.start(prefix)
        response.status_code = status.HTTP_202_ACCEPTED
        response.headers["Location"] = f"/api/v1/sync/{job.job_id}"
        return job
    report = service.runner.run(prefix)
    result = result_of(report)
    if result.status != "failed":
        return result
    failure = service.runner.failure(report)
    # As api.errors answers what it is raised: S3's own trouble is 503, worth a retry.
    return JSONResponse(
        SyncFailure(detail=failure.reason, result=result).model_dump(mode="json"),
        status_code=503 if failure.s3 else 502,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)} if failure.s3 else None,
    )


@router.get("/api/v1/sync/{job_id}", responses=problems(404))
def sync_job(service: ServiceDep, job_id: str) -> SyncJob:
    """A background sync: running, done (with its summary) or failed (with the error)."""
    job = service.runner.job(job_id)
    if job is None:
        raise NotFoundError(f"no sync job {job_id!r} (only the last 100 are kept)")
    return job


@router.post(
    "/api/v1/s3-notification",
    dependencies=[Authenticated],
    openapi_extra={"requestBody": NOTIFICATION_BODY},
    responses=problems(400, 401, 403, 413, 422, 503),
)
async def s3_notification(
    service: ServiceDep, body: Annotated[bytes, Depends(read_body)]
) -> NotificationResult:
    """Apply the object changes a notification carries to the mirror.

    400: the body is not an event (the message says where); 422: it will never apply here
    (another bucket's events), do not retry; 503: a transient failure, retry later.
    """
    return await run_in_threadpool(service.notify, body)
