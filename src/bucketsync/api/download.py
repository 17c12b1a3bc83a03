"""Answering a download from an open descriptor: Range, HEAD and the conditional headers.

Starlette's ``FileResponse`` does ranges (one, or several as ``multipart/byteranges``),
``If-Range`` and HEAD, but reads by path: ``MirroredFileResponse`` is that response reading
from the descriptor ``sinks.mirror.opened`` opened, so what is sent is the file that was
checked, whatever is renamed over its path meanwhile. It carries the object's own ETag (not
one made from the file's time), and ``not_modified`` answers ``If-None-Match`` and
``If-Modified-Since`` as RFC 9110 says: 304, with no body.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import formatdate, parsedate_to_datetime

import anyio
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send

from bucketsync.sinks.mirror import Opened


def entity_tag(opened: Opened) -> str | None:
    etag = opened.entry.etag
    return f'"{etag}"' if etag else None


def not_modified(request: Headers, opened: Opened) -> Response | None:
    """304 when the client's copy is current; None when the file is to be sent."""
    etag = entity_tag(opened)
    modified = formatdate(opened.stat.st_mtime, usegmt=True)
    headers = {"Last-Modified": modified, **({"ETag": etag} if etag else {})}
    if_none_match = request.get("if-none-match")
    if if_none_match is not None:
        # Weak comparison (RFC 9110 13.1.2): W/ is ignored, "*" matches any current file.
        tags = {_opaque(tag) for tag in if_none_match.split(",")}
        current = "*" in tags or (etag is not None and _opaque(etag) in tags)
        return Response(status_code=304, headers=headers) if current else None
    since = request.get("if-modified-since")
    if since is not None and _not_after(int(opened.stat.st_mtime), since):
        return Response(status_code=304, headers=headers)
    return None


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def _not_after(mtime: int, since: str) -> bool:
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False  # an unreadable date is ignored, as the RFC says
    return moment.tzinfo is not None and mtime <= moment.timestamp()


class MirroredFileResponse(FileResponse):
    """``FileResponse`` of an open mirrored file; the descriptor is closed once it is sent."""

    def __init__(self, opened: Opened, *, filename: str) -> None:
        etag = entity_tag(opened)
        super().__init__(
            filename,  # never opened: only its name is used, for the media type
            filename=filename,
            stat_result=opened.stat,
            headers={"ETag": etag} if etag else None,
        )
        self._fd = opened.fd

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Without the pathsend extension, so the server is never handed a path to open.
        extensions = {
            name: value
            for name, value in scope.get("extensions", {}).items()
            if name != "http.response.pathsend"
        }
        try:
            await super().__call__({**scope, "extensions": extensions}, receive, send)
        finally:
            os.close(self._fd)

    @asynccontextmanager
    async def _open_file(self) -> AsyncIterator[anyio.AsyncFile[bytes]]:
        # A duplicate of the checked descriptor: the same open file, whatever its name is now.
        duplicate = os.dup(self._fd)
        os.lseek(duplicate, 0, os.SEEK_SET)
        file = anyio.AsyncFile(os.fdopen(duplicate, "rb"))
        try:
            yield file
        finally:
            with anyio.CancelScope(shield=True):
                await file.aclose()
