"""Who may call the mutating routes, and where an unauthenticated service may listen.

A POST is let through when it carries ``Authorization: Bearer <api_token>`` or an HMAC
signature made with ``hmac_secret`` (``bucketsync.signing`` v2, what the forwarding Lambda
sends) of its timestamp, method, path, query and body. The path checked is the ASGI
``scope["path"]``: percent-decoded and, behind a proxy, including the ASGI ``root_path`` the
server was given (uvicorn's ``--root-path``), so it is the whole path the client sent. A proxy
that strips a prefix without the server being told it makes every signature fail (403), never
pass. The query checked is the raw ``scope["query_string"]``, parsed as ``request.query_params``
parses it. With neither configured the routes are open, and the only protection left is
the network: ``bucketsync serve`` then refuses to listen anywhere but loopback. With
credentials configured, reads need them too (every route but ``/ping`` and the health probe),
unless ``BUCKETSYNC_OPEN_READS`` says otherwise; ``api.guard`` checks them, from the headers
alone, before anything else runs.

What can be judged from the headers is judged before the body is read (``header_check``): a
request with no credentials, a wrong bearer token, or a stale, malformed or missing signature
timestamp is refused without the server holding its body. A signed body must be read to be
verified; until it is, its bytes count against one budget shared by every request
(``UNVERIFIED_BUDGET``), so unauthenticated clients cannot make the server hold more than that
in total.

Missing credentials answer 401 (with ``WWW-Authenticate``), wrong ones 403, so a client can tell
"you forgot" from "you are not allowed".
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from collections.abc import Mapping
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bucketsync.errors import SignatureError
from bucketsync.settings import Settings
from bucketsync.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, VERSION, check_headers, verify

# Beyond any real notification (SNS caps a message at 256 KiB, a Lambda payload at 6 MB).
MAX_BODY_BYTES = 8 * 1024 * 1024
# Bytes of not-yet-authenticated bodies held at once, all requests together: four of the largest.
UNVERIFIED_BUDGET = 4 * MAX_BODY_BYTES
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})

bearer_scheme = HTTPBearer(
    auto_error=False,
    description=(
        f"The API token (BUCKETSYNC_API_TOKEN). Alternatively sign the request (method, path, "
        f"query, body) with the HMAC secret: {SIGNATURE_HEADER} ({VERSION}) and "
        f"{TIMESTAMP_HEADER} headers."
    ),
)


def auth_configured(settings: Settings) -> bool:
    return settings.api_token is not None or settings.hmac_secret is not None


def is_loopback(host: str) -> bool:
    """True for loopback addresses and ``localhost``; any other name counts as exposed."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def binding_problem(settings: Settings, host: str) -> str | None:
    """Why the service must not listen on ``host`` with these settings, or None."""
    if is_loopback(host) or auth_configured(settings):
        return None
    return (
        f"refusing to listen on {host}: no BUCKETSYNC_API_TOKEN or BUCKETSYNC_HMAC_SECRET is "
        "set, so anyone who can reach the port could trigger syncs and notifications; set one, "
        "or listen on 127.0.0.1"
    )


Passed = Literal["open", "bearer", "signed"]  # "signed": the body is still to be verified


def header_check(settings: Settings, headers: Mapping[str, str], *, bearer: str | None) -> Passed:
    """Judge the request by its headers alone; raise 401/403 as ``HTTPException``.

    ``bearer`` is the Authorization header's Bearer credentials, if any."""
    token, secret = settings.api_token, settings.hmac_secret
    if token is None and secret is None:
        return "open"
    lowered = {name.lower() for name in headers}
    signed = SIGNATURE_HEADER.lower() in lowered or TIMESTAMP_HEADER.lower() in lowered
    if bearer is None and not signed:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"credentials required: Authorization: Bearer <token>, or {SIGNATURE_HEADER} and "
            f"{TIMESTAMP_HEADER} signing the request",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if bearer is not None:
        if token is not None and hmac.compare_digest(
            bearer.encode(), token.get_secret_value().encode()
        ):
            return "bearer"
        if not signed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "the bearer token is not valid")
    if secret is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this service accepts no signatures")
    try:
        check_headers(headers)
    except SignatureError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"signature refused: {exc}") from None
    return "signed"


class Budget:
    """Bytes of unauthenticated bodies the process holds, all requests together."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._lock = asyncio.Lock()

    async def take(self, size: int) -> bool:
        async with self._lock:
            if self.held + size > self.limit:
                return False
            self.held += size
            return True

    async def give(self, size: int) -> None:
        async with self._lock:
            self.held = max(0, self.held - size)


def budget_of(request: Request) -> Budget:
    found: Budget = request.app.state.unverified
    return found


async def read_body(request: Request) -> bytes:
    """The request body, at most ``MAX_BODY_BYTES`` (413 beyond), read once per request.

    Unless a bearer token already authenticated the request, its bytes are taken from the
    shared budget as they arrive (all at once when the length is declared): over it, 503 with
    Retry-After, before more is read. ``release_body`` gives them back."""
    cached: bytes | None = getattr(request.state, "body", None)
    if cached is not None:
        return cached
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    budget = None if getattr(request.state, "passed", None) == "bearer" else budget_of(request)
    held = 0
    if budget is not None and declared.isdigit():
        if not await budget.take(int(declared)):
            raise _busy()
        held = int(declared)
    chunks: list[bytes] = []
    size = 0
    try:
        # Counted while streaming too: a chunked body declares no length.
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _too_large()
            if budget is not None and size > held:
                if not await budget.take(size - held):
                    raise _busy()
                held = size
            chunks.append(chunk)
    except BaseException:
        if budget is not None:
            await budget.give(held)
        raise
    request.state.held = held
    body = b"".join(chunks)
    request.state.body = body
    return body


async def release_body(request: Request) -> None:
    """The body is authenticated (or refused): its bytes leave the unverified budget."""
    held: int = getattr(request.state, "held", 0)
    if held:
        request.state.held = 0
        await budget_of(request).give(held)


def _busy() -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "too many unauthenticated request bodies in flight; retry shortly",
        headers={"Retry-After": "1"},
    )


def _too_large() -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE, f"the body exceeds {MAX_BODY_BYTES} bytes"
    )


async def require_credentials(
    request: Request,
    body: Annotated[bytes, Depends(read_body)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """Let the request through if it is authenticated, or if no credentials are configured."""
    settings: Settings = request.app.state.settings
    try:
        passed = header_check(
            settings, request.headers, bearer=bearer.credentials if bearer else None
        )
        if passed != "signed":
            return
        secret = settings.hmac_secret
        assert secret is not None  # header_check passes "signed" only with a secret
        try:
            verify(
                secret.get_secret_value(),
                request.headers,
                body,
                method=request.method,
                # Not request.url.path / .query: that path re-escapes "?", "#" and "\\", and
                # that query is decoded as UTF-8 where request.query_params decodes as Latin-1.
                path=request.scope["path"],
                query=request.scope.get("query_string", b"").decode("latin-1"),
            )
        except SignatureError as exc:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"signature refused: {exc}") from None
    finally:
        await release_body(request)


Authenticated = Depends(require_credentials)
