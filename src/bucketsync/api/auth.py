"""Who may call the mutating routes, and where an unauthenticated service may listen.

A POST is let through when it carries ``Authorization: Bearer <api_token>`` or an HMAC
signature made with ``hmac_secret`` (``bucketsync.signing`` v2, what the forwarding Lambda
sends) of its timestamp, method, path, query and body. The path checked is the ASGI
``scope["path"]``: percent-decoded and, behind a proxy, including the ASGI ``root_path`` the
server was given (uvicorn's ``--root-path``), so it is the whole path the client sent. A proxy
that strips a prefix without the server being told it makes every signature fail (403), never
pass. The query checked is the raw ``scope["query_string"]``, parsed as ``request.query_params``
parses it. With neither configured the routes are open, and the only protection left is
the network: ``bucketsync serve`` then refuses to listen anywhere but loopback. Reads (GET)
are open in every case.

Missing credentials answer 401 (with ``WWW-Authenticate``), wrong ones 403, so a client can tell
"you forgot" from "you are not allowed".
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bucketsync.settings import Settings
from bucketsync.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    VERSION,
    SignatureError,
    verify,
)

# Beyond any real notification (SNS caps a message at 256 KiB, a Lambda payload at 6 MB).
MAX_BODY_BYTES = 8 * 1024 * 1024
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


async def read_body(request: Request) -> bytes:
    """The request body, at most ``MAX_BODY_BYTES`` (413 beyond), read once per request."""
    cached: bytes | None = getattr(request.state, "body", None)
    if cached is not None:
        return cached
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    # Counted while streaming too: a chunked body declares no length.
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    body = b"".join(chunks)
    request.state.body = body
    return body


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
    token, secret = settings.api_token, settings.hmac_secret
    if token is None and secret is None:
        return
    signed = SIGNATURE_HEADER in request.headers or TIMESTAMP_HEADER in request.headers
    if bearer is None and not signed:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"credentials required: Authorization: Bearer <token>, or {SIGNATURE_HEADER} and "
            f"{TIMESTAMP_HEADER} signing the request",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if bearer is not None:
        if token is not None and hmac.compare_digest(
            bearer.credentials.encode(), token.get_secret_value().encode()
        ):
            return
        if not signed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "the bearer token is not valid")
    if secret is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this service accepts no signatures")
    try:
        verify(
            secret.get_secret_value(),
            request.headers,
            body,
            method=request.method,
            # Not request.url.path / .query: that path re-escapes "?", "#" and "\\", and that
            # query is decoded as UTF-8 where request.query_params decodes as Latin-1.
            path=request.scope["path"],
            query=request.scope.get("query_string", b"").decode("latin-1"),
        )
    except SignatureError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"signature refused: {exc}") from None


Authenticated = Depends(require_credentials)
