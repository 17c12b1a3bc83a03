"""The one table that maps every error to an HTTP status.

The service's own refusals (in ``bucketsync.errors``, with the rest of the tree):

    ServiceBusyError      409: a full sync is already running
    NoBucketError         409: the request needs a bucket and none is configured
    NotFoundError         404: no such file in the mirror, no such sync job
    CursorError           400: a listing cursor this service did not make (api.cursor)
    RejectedError         422: a well-formed request the service will not carry out

The rest are the library's: a malformed event or an unsafe key is the client's mistake (400),
a transient failure is retryable (503 with ``Retry-After``, so S3's or the forwarder's retry
comes back), a configuration problem upstream (no such bucket, access denied) is 503 too,
and any other ``BucketSyncError`` is a failure of S3 seen through us (502).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from bucketsync.errors import (
    BucketSyncError,
    ConfigurationError,
    CursorError,
    MalformedEventError,
    NoBucketError,
    NotFoundError,
    RejectedError,
    RetryableError,
    ServiceBusyError,
    UnsafeKeyError,
)

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

STATUSES: tuple[tuple[type[BaseException], int], ...] = (
    (ServiceBusyError, status.HTTP_409_CONFLICT),
    (NoBucketError, status.HTTP_409_CONFLICT),
    (NotFoundError, status.HTTP_404_NOT_FOUND),
    (CursorError, status.HTTP_400_BAD_REQUEST),
    (RejectedError, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (MalformedEventError, status.HTTP_400_BAD_REQUEST),
    (UnsafeKeyError, status.HTTP_400_BAD_REQUEST),
    (RetryableError, status.HTTP_503_SERVICE_UNAVAILABLE),
    (ConfigurationError, status.HTTP_503_SERVICE_UNAVAILABLE),
)


def status_of(exc: BaseException) -> int:
    for kind, code in STATUSES:
        if isinstance(exc, kind):
            return code
    return status.HTTP_502_BAD_GATEWAY


def problem(exc: BaseException) -> JSONResponse:
    code = status_of(exc)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if code == 503 else None
    return JSONResponse({"detail": str(exc)}, status_code=code, headers=headers)


async def _bucketsync_error(request: Request, exc: Exception) -> JSONResponse:
    response = problem(exc)
    if response.status_code >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(BucketSyncError, _bucketsync_error)
