"""The FastAPI app: ``create_app(settings)`` → an ASGI app that ``bucketsync serve`` runs.

The app owns what it builds: given no ``parts``, it builds the engine and mirror at once (so a
bad setting fails before the port is bound) and closes them at shutdown. ``parts`` passed in
stay the caller's to close. The lifespan starts the periodic full sync, when it is on and a
bucket is set, and the queue poller when ``queue`` is asked for, and stops them at shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.requests import Request

from bucketsync import __version__
from bucketsync.api import errors, routes_files, routes_info, routes_sync
from bucketsync.api.auth import UNVERIFIED_BUDGET, Budget
from bucketsync.api.guard import Guard
from bucketsync.api.page import STATIC_DIR, STATIC_URL
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
neither, they are open and the service listens on loopback only. With either configured, the
GET routes need them too (except `/ping` and `/api/v1/health`), unless `BUCKETSYNC_OPEN_READS`
is true. Bodies must be `application/json`; the `Host` must name this service (its address,
`localhost`, or `BUCKETSYNC_ALLOWED_HOSTS`); a POST from another origin is refused.
"""


def create_app(
    settings: Settings,
    *,
    clients: Clients | None = None,
    parts: ServiceParts | None = None,
    queue: bool = False,
) -> FastAPI:
    """``queue``: poll ``settings.queue_url`` into the mirror while the app runs."""
    owns_parts = parts is None
    parts = parts or service_parts(settings, clients)
    try:
        service = Service(settings, parts, owns_parts=owns_parts, queue=queue)
    except BaseException:
        if owns_parts:
            parts.engine.close()
        raise

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    # Swagger UI's and ReDoc's files served by the app itself: /docs works with no internet.
    app = FastAPIOffline(
        title="bucketsync",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.unverified = Budget(UNVERIFIED_BUDGET)
    app.add_middleware(Guard, settings=settings)
    errors.install(app)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.include_router(routes_info.router)
    app.include_router(routes_sync.router)
    app.include_router(routes_files.router)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
    return app


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body, with ``input`` left out: it may echo a whole request body back."""
    assert isinstance(exc, RequestValidationError)
    detail = [
        {key: value for key, value in error.items() if key not in ("input", "ctx", "url")}
        for error in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)
