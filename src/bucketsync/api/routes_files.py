"""Reads of objects: list the bucket or the mirror, download a mirrored file."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from bucketsync.api.deps import ServiceDep, problems
from bucketsync.api.errors import NoBucketError
from bucketsync.api.files import list_bucket_page, list_mirror_page, mirrored_file
from bucketsync.api.models import FileList
from bucketsync.api.routes_sync import MAX_KEY_LENGTH

router = APIRouter(tags=["files"])


@router.get("/api/v1/files", responses=problems(409, 422, 503))
async def files(
    service: ServiceDep,
    source: Annotated[
        Literal["s3", "local"], Query(description="s3: the bucket; local: the mirror.")
    ] = "s3",
    prefix: Annotated[str, Query(max_length=MAX_KEY_LENGTH)] = "",
    limit: Annotated[int, Query(ge=1, le=1000, description="Files per page.")] = 1000,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_KEY_LENGTH, description="next_cursor of the previous page."),
    ] = None,
) -> FileList:
    """One page of keys in key order; follow ``next_cursor`` until it is null."""
    if source == "local":
        store = service.parts.mirror.store
        return await run_in_threadpool(list_mirror_page, store, prefix, limit=limit, cursor=cursor)
    bucket = service.settings.bucket
    if bucket is None:
        raise NoBucketError(
            "no bucket is configured (BUCKETSYNC_BUCKET or S3_BUCKET_NAME); source=local lists "
            "the mirror"
        )
    s3 = service.parts.clients.s3
    return await run_in_threadpool(list_bucket_page, s3, bucket, prefix, limit=limit, cursor=cursor)


@router.get(
    "/api/v1/download/{path:path}",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file."},
        206: {"description": "The byte range asked for (Range: bytes=a-b)."},
        416: {"description": "The range lies outside the file."},
        **problems(400, 404),
    },
)
async def download(service: ServiceDep, path: str) -> FileResponse:
    """The mirrored file of the object ``path`` (an S3 key), streamed; ``Range`` honoured.

    Only files the mirror wrote are served: 404 for any other key, 400 for a key the mirror
    cannot map to a file (the answer never comes from outside the mirror directory).
    """
    mirror = service.parts.mirror
    found = await run_in_threadpool(mirrored_file, mirror.root, mirror.store, path)
    return FileResponse(found, filename=path.rsplit("/", 1)[-1])
