"""The FastAPI app: ``create_app(settings)`` → an ASGI app that ``bucketsync serve`` runs.

The app owns what it builds: given no ``parts``, it builds the engine and mirror at once (so a
bad setting fails before the port is bound) and closes them at shutdown. ``parts`` passed in
stay the caller's to close. The lifespan starts the periodic full sync, when it is on and a
bucket is set, and stops it at shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.requests import Request

from bucketsync import __version__
from bucketsync.api import errors, routes_files, routes_info, routes_sync
from bucketsync.api.service import Service, ServiceParts, service_parts
from bucketsync.aws.clients import Clients
from bucketsync.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Keeps a local directory a mirror of an S3 bucket: S3 event notifications (directly, or through
the forwarding Lambda) apply each change as it happens, and a full sync catches up whatever
was missed.

**Authentication.** The POST routes need `Authorization: Bearer <BUCKETSYNC_API_TOKEN>` or
an HMAC signature of the method, path, query and body (`X-Bucketsync-Signature: v2=...`,
`X-Bucketsync-Timestamp`) made with `BUCKETSYNC_HMAC_SECRET`, whichever is configured. With
neither, they are open and the service listens on loopback only. GET routes are always open.
"""


def create_app(
    settings: Settings, *, clients: Clients | None = None, parts: ServiceParts | None = None
) -> FastAPI:
    owns_parts = parts is None
    service = Service(settings, parts or service_parts(settings, clients), owns_parts=owns_parts)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="bucketsync",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    errors.install(app)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.include_router(routes_info.router)
    app.include_router(routes_sync.router)
    app.include_router(routes_files.router)
    return app


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body, with ``input`` left out: it may echo a whole request body back."""
    assert isinstance(exc, RequestValidationError)
    detail = [
        {key: value for key, value in error.items() if key not in ("input", "ctx", "url")}
        for error in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)
