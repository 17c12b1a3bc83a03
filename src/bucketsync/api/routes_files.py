"""Reads of objects: list the bucket or the mirror, download a mirrored file.

What one request can cost is bounded whatever it asks: a listing page is one ListObjectsV2
call (or one bounded query of the mirror's store), its cursor opaque and checked before S3 is
asked anything, and at most ``LISTINGS`` bucket listings run at once: the rest are refused at
once with 503 and ``Retry-After``, so slow listings never take the threads the other routes
need. A listing whose client has gone is not started.
"""

from __future__ import annotations

import os
import threading
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from bucketsync.api.cursor import read_cursor
from bucketsync.api.deps import ServiceDep, problems
from bucketsync.api.download import MirroredFileResponse, not_modified
from bucketsync.api.files import list_bucket_page, list_mirror_page
from bucketsync.api.models import FileList
from bucketsync.api.routes_sync import MAX_KEY_LENGTH
from bucketsync.errors import NoBucketError, NotFoundError
from bucketsync.sinks.mirror import open_mirrored

router = APIRouter(tags=["files"])

LISTINGS = 4  # bucket listings at once; each holds a thread for one S3 round trip
LISTING_RETRY_AFTER = 1
_listings = threading.BoundedSemaphore(LISTINGS)


@router.get("/api/v1/files", responses=problems(400, 409, 422, 503), response_model=FileList)
async def files(
    *,
    service: ServiceDep,
    request: Request,
    source: Annotated[
        Literal["s3", "local"], Query(description="s3: the bucket; local: the mirror.")
    ] = "s3",
    prefix: Annotated[str, Query(max_length=MAX_KEY_LENGTH)] = "",
    limit: Annotated[int, Query(ge=1, le=1000, description="Files per page.")] = 1000,
    cursor: Annotated[
        str | None,
        Query(description="next_cursor of the previous page, as it came (opaque)."),
    ] = None,
) -> FileList | JSONResponse:
    """One page of keys in key order; follow ``next_cursor`` until it is null.

    400: a cursor this service did not make for this source and prefix (or made before it
    restarted); 503: too many listings at once, retry after ``Retry-After`` seconds.
    """
    position = read_cursor(cursor, source, prefix) if cursor is not None else None
    if source == "local":
        store = service.parts.mirror.store
        return await run_in_threadpool(list_mirror_page, store, prefix, limit=limit, after=position)
    bucket = service.settings.bucket
    if bucket is None:
        raise NoBucketError(
            "no bucket is configured (BUCKETSYNC_BUCKET or S3_BUCKET_NAME); source=local lists "
            "the mirror"
        )
    if not _listings.acquire(blocking=False):
        return JSONResponse(
            {"detail": f"{LISTINGS} listings are running: retry in a moment"},
            status_code=503,
            headers={"Retry-After": str(LISTING_RETRY_AFTER)},
        )
    try:
        if await request.is_disconnected():
            # Nobody to answer: the S3 call is not made (the status is never seen).
            return JSONResponse({"detail": "the client has gone"}, status_code=503)
        s3 = service.parts.clients.s3
        return await run_in_threadpool(
            list_bucket_page, s3, bucket, prefix, limit=limit, token=position
        )
    finally:
        _listings.release()


# HEAD is GET without the body (Starlette's FileResponse sends none): documented with GET.
@router.head("/api/v1/download/{path:path}", include_in_schema=False)
@router.get(
    "/api/v1/download/{path:path}",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file."},
        206: {"description": "The byte range asked for (Range: bytes=a-b)."},
        304: {"description": "If-None-Match or If-Modified-Since: the client's copy is current."},
        416: {"description": "The range lies outside the file."},
        **problems(400, 404),
    },
)
async def download(service: ServiceDep, request: Request, path: str) -> Response:
    """The mirrored file of the object ``path`` (an S3 key), streamed; ``Range``, ``If-Range``,
    ``If-None-Match`` and ``If-Modified-Since`` honoured; HEAD for the headers alone.

    ``ETag`` and ``Last-Modified`` are the object's. Only the file the mirror wrote is served,
    opened once without following links: 404 for any other key, or when the file on disk is
    no longer that one; 400 for a key the mirror cannot map to a file.
    """
    mirror = service.parts.mirror
    opened = await run_in_threadpool(open_mirrored, mirror.root, mirror.store, path)
    if opened is None:
        raise NotFoundError(f"the mirror holds no file for {path!r}")
    unchanged = not_modified(request.headers, opened)
    if unchanged is not None:
        os.close(opened.fd)
        return unchanged
    return MirroredFileResponse(opened, filename=path.rsplit("/", 1)[-1])
