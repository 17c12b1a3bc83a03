"""The service's front door: what every request must show before any route runs.

An ASGI middleware, so it judges from the request line and headers alone, before a body is
read or a thread is taken:

* **Host** must name this service: an address it listens on (any IP literal when it listens on
  all of them), ``localhost``, or a name in ``BUCKETSYNC_ALLOWED_HOSTS``. A DNS-rebinding page
  (``rebind.attacker.example`` resolving to 127.0.0.1) reaches the port with its own name in
  Host, and is refused (421).
* **Cross-site writes** are refused: a POST whose ``Origin`` is not this service (403), and a
  body that is not JSON (415). A browser can send a cross-origin ``text/plain`` POST without
  a CORS preflight; it cannot send ``application/json`` without one, and the service answers
  no preflight.
* **Credentials**, when a token or secret is configured: every route but ``/ping`` and the
  health probe needs them (reads too, unless ``BUCKETSYNC_OPEN_READS``). ``auth.header_check``
  judges what the headers can show; a signed GET is verified here (it has no body), a signed
  POST by its route once the body is read within the unverified budget. The status page's
  shell (``/`` asked for as HTML) and its ``/static/`` files need none: they hold no data, and
  a browser cannot send a bearer token when it navigates (``page.py``).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from bucketsync.api.auth import LOOPBACK_NAMES, header_check
from bucketsync.api.page import STATIC_URL, wants_html
from bucketsync.errors import SignatureError
from bucketsync.settings import Settings
from bucketsync.signing import verify

OPEN_PATHS = frozenset({"/ping", "/api/v1/health"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_TYPES = ("application/json",)
WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # listening on every address
PAGE_METHODS = frozenset({"GET", "HEAD"})


def host_name(value: str) -> str:
    """``[::1]:8888`` → ``::1``; ``Example.com.:80`` → ``example.com``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


class HostPolicy:
    """Which Host (and Origin) names are this service."""

    def __init__(self, listen: str, allowed: Iterable[str]) -> None:
        self.listen = host_name(listen)
        self.names = {host_name(name) for name in allowed} | set(LOOPBACK_NAMES)

    def allows(self, host: str) -> bool:
        name = host_name(host)
        if name in self.names or name == self.listen:
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False  # a name nobody configured: the rebinding case
        if self.listen in WILDCARDS:
            return True
        if address.is_loopback:
            return self._listens_on_loopback()
        return False

    def _listens_on_loopback(self) -> bool:
        if self.listen in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.listen).is_loopback
        except ValueError:
            return False


class Guard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.hosts = HostPolicy(settings.api_host, settings.allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._judge(scope)
        except HTTPException as exc:
            await _refuse(send, exc)
            return
        await self.app(scope, receive, send)

    def _judge(self, scope: Scope) -> None:
        headers = Headers(scope=scope)
        host = headers.get("host")
        if host is not None and not self.hosts.allows(host):
            # The name is not echoed back: it is the sender's text.
            raise HTTPException(421, "this service does not answer to that Host name")
        method = str(scope["method"])
        if not (
            _route_path(scope) in OPEN_PATHS
            or (method in SAFE_METHODS and self.settings.open_reads)
            or _page_shell(scope, headers, method)
        ):
            # Signatures cover the whole path the client sent, root path included.
            self._credentials(scope, headers, method, str(scope["path"]))
        if method not in SAFE_METHODS:
            self._same_origin_json(headers)

    def _credentials(self, scope: Scope, headers: Headers, method: str, path: str) -> None:
        authorization = headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        bearer = credentials.strip() if scheme.lower() == "bearer" and credentials else None
        passed = header_check(self.settings, headers, bearer=bearer)
        scope.setdefault("state", {})["passed"] = passed
        if passed == "signed" and method in SAFE_METHODS:
            secret = self.settings.hmac_secret
            assert secret is not None
            try:
                verify(
                    secret.get_secret_value(),
                    headers,
                    b"",
                    method=method,
                    path=path,
                    query=bytes(scope.get("query_string", b"")).decode("latin-1"),
                )
            except SignatureError as exc:
                raise HTTPException(403, f"signature refused: {exc}") from None

    def _same_origin_json(self, headers: Headers) -> None:
        origin = headers.get("origin")
        # "null" is what sandboxed frames and file: pages send: never this service.
        if origin is not None and (
            origin == "null" or not self.hosts.allows(urlsplit(origin).netloc or origin)
        ):
            raise HTTPException(403, "cross-origin requests are refused")
        has_body = headers.get("content-length", "0") not in ("", "0") or (
            "chunked" in headers.get("transfer-encoding", "").lower()
        )
        if has_body:
            kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if kind not in JSON_TYPES:
                raise HTTPException(415, "bodies must be application/json")


def _page_shell(scope: Scope, headers: Headers, method: str) -> bool:
    """The status page's shell or one of its files: no data in them, so no credentials asked.
    Only ``/`` in its HTML form: its JSON form (bucket, mirror directory) stays behind them."""
    if method not in PAGE_METHODS:
        return False
    path = _route_path(scope)
    if path == "/":
        return wants_html(headers.get("accept", ""))
    # The mount serves files of its directory only (StaticFiles refuses ".." out of it), and
    # no route of the API lies under it.
    return path.startswith(STATIC_URL + "/")


def _route_path(scope: Scope) -> str:
    """The path routes see: uvicorn puts a --root-path in front of the ASGI path."""
    path, root = str(scope["path"]), str(scope.get("root_path", ""))
    if root and path.startswith(root):
        return path[len(root) :]
    return path


async def _refuse(send: Send, exc: HTTPException) -> None:
    body = json.dumps({"detail": exc.detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # The body of the refused request is never read: the connection cannot be reused.
        (b"connection", b"close"),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
