"""HMAC signatures on the forwarder's POSTs, checked by the service.

``X-Bucketsync-Signature: v2=<hex HMAC-SHA256(secret, canonical request)>`` with the Unix time
in ``X-Bucketsync-Timestamp``. The canonical request is, in bytes::

    <timestamp> LF <METHOD> LF <canonical path> LF <canonical query> LF <body>

* ``timestamp``: the ``X-Bucketsync-Timestamp`` value, ASCII digits.
* ``METHOD``: the HTTP method, upper case (an RFC 9110 token).
* ``canonical path``: the request path *percent-decoded* (what an ASGI server puts in
  ``scope["path"]`` and routes on; what ``unquote(urlsplit(url).path)`` gives a client),
  re-encoded with ``urllib.parse.quote(path, safe="/")``: UTF-8, every byte outside
  ``A-Z a-z 0-9 - . _ ~ /`` as ``%XX`` in upper case. It is the whole path the client sent,
  including any prefix a proxy in front of the service routes on.
* ``canonical query``: the query string parsed into name/value pairs the way the service
  parses it (``parse_qsl(query, keep_blank_values=True)``: ``+`` is a space, ``a`` and ``a=``
  are the same, empty fields are dropped), each name and value re-encoded with
  ``quote(..., safe="")`` (as the path, ``/`` encoded too), the encoded ``name=value``
  strings sorted (they are ASCII: byte order) and joined with ``&`` (empty for no query).
  AWS SigV4's canonical query, except that whole ``name=value`` strings are sorted.
* ``body``: the body's bytes, as sent.

Decoding and re-encoding both path and query one fixed way, rather than signing the bytes as
sent, makes the signature indifferent to how an HTTP client, a proxy or the ASGI server
(re-)encodes them (``%7E`` or ``~``, ``%20`` or ``+``, parameter order), while anything the
service would act on differently (another route, another ``prefix``) signs differently. The
path and query are ASCII without ``LF`` once encoded, the method is a token and the timestamp
digits, so the fields cannot run into each other; the body comes last and needs no delimiter.

The timestamp is signed too, and one outside ``tolerance`` seconds is refused, so a captured
request cannot be replayed later (Stripe's and Slack's webhook scheme); within the window it
can be replayed only as exactly the same request (there is no nonce store; both routes
tolerate a repeat, at worst as extra work: a notification is weighed against what is mirrored
by its sequencer, a sync again makes the mirror equal the bucket). Several comma-separated
signatures may be sent while a secret is rotated; any that matches will do. Only ``v2`` is
accepted: ``v1`` (timestamp and body only) is refused with a message that says so. Standard
library only: the forwarding Lambda packages it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from bucketsync.errors import SignatureError

SIGNATURE_HEADER = "X-Bucketsync-Signature"
TIMESTAMP_HEADER = "X-Bucketsync-Timestamp"
VERSION = "v2"
TOLERANCE_SECONDS = 300

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token: what a method may be
_VERSION_NAME = re.compile(r"v[0-9]{1,3}")


def canonical_path(path: str) -> str:
    """``path`` (percent-decoded) encoded one fixed way: ASCII, no ``LF``, ``/`` kept."""
    return quote(path, safe="/")


def canonical_query(query: str) -> str:
    """``query`` (as sent, percent-encoded) as sorted, re-encoded ``name=value`` pairs."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(
        sorted(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in pairs)
    )


def canonical_request(timestamp: str, method: str, path: str, query: str, body: bytes) -> bytes:
    """The bytes that are signed (see the module's docstring)."""
    if not _TOKEN.fullmatch(method):
        raise ValueError(f"not an HTTP method: {method!r}")
    head = "\n".join((timestamp, method.upper(), canonical_path(path), canonical_query(query), ""))
    return head.encode("ascii") + body


def target(url: str) -> tuple[str, str]:
    """The (path, query) to sign for a request to ``url`` (a full URL or ``/path?query``):
    the path percent-decoded, as the server will route on it, the query as sent."""
    parts = urlsplit(url)
    return unquote(parts.path or "/"), parts.query


def _digest(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(
    secret: str,
    body: bytes,
    *,
    method: str,
    path: str,
    query: str = "",
    now: float | None = None,
) -> dict[str, str]:
    """The headers that sign a ``method`` request to ``path?query`` with ``body``.

    ``path`` is percent-decoded and ``query`` as sent: ``target(url)`` gives both.
    """
    timestamp = str(int(time.time() if now is None else now))
    message = canonical_request(timestamp, method, path, query, body)
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: f"{VERSION}={_digest(secret, message)}",
    }


def check_headers(
    headers: Mapping[str, str], *, now: float | None = None, tolerance: float = TOLERANCE_SECONDS
) -> tuple[str, list[str]]:
    """What can be checked before the body is read: both headers there, the timestamp fresh,
    a signature of our version. Returns the timestamp and the candidate signatures; raises
    ``SignatureError`` otherwise. The service calls this first, so a stale or malformed
    request is refused without the server holding its body."""
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower())
    signature = lowered.get(SIGNATURE_HEADER.lower())
    if not timestamp or not signature:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")
    # Bounded: int() refuses more than 4300 digits with a ValueError of its own.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 20):
        raise SignatureError(f"{TIMESTAMP_HEADER} is not a Unix time")
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        raise SignatureError(f"{TIMESTAMP_HEADER} is more than {tolerance:g} s away from now")
    # Several signatures may be sent (a secret being rotated): any one that matches will do.
    given = [part.strip() for part in signature.split(",")]
    ours = [value for value in given if value.partition("=")[0] == VERSION]
    if not ours:
        # Named back only when it looks like a version: the header is the sender's text.
        versions = {value.partition("=")[0] for value in given}
        shown = ", ".join(
            sorted({v if _VERSION_NAME.fullmatch(v) else "(unrecognised)" for v in versions})
        )
        raise SignatureError(f"signature version {shown} is not accepted; sign with {VERSION}")
    return timestamp, ours


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str,
    path: str,
    query: str,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> None:
    """Return if ``headers`` sign this request with ``secret`` within ``tolerance``; else raise.

    ``path`` is percent-decoded (an ASGI ``scope["path"]``) and ``query`` as received; it has
    no default, so a caller cannot leave the query unchecked by forgetting it.
    ``headers`` is looked up case-insensitively when it is a plain dict (HTTP names are).
    """
    timestamp, ours = check_headers(headers, now=now, tolerance=tolerance)
    try:
        message = canonical_request(timestamp, method, path, query, body)
    except ValueError as exc:
        raise SignatureError(str(exc)) from None
    expected = f"{VERSION}={_digest(secret, message)}"
    if not any(hmac.compare_digest(expected.encode(), value.encode()) for value in ours):
        raise SignatureError("signature does not match the request (method, path, query, body)")
