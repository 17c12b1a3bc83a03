"""HMAC signatures on the forwarder's POSTs, checked by the service.

``X-Bucketsync-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`` with the Unix
time in ``X-Bucketsync-Timestamp``. The timestamp is signed too, and one outside ``tolerance``
seconds is refused, so a captured request cannot be replayed later (Stripe's and Slack's
webhook scheme). Standard library only: the forwarding Lambda packages it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from bucketsync.errors import BucketSyncError

SIGNATURE_HEADER = "X-Bucketsync-Signature"
TIMESTAMP_HEADER = "X-Bucketsync-Timestamp"
VERSION = "v1"
TOLERANCE_SECONDS = 300


class SignatureError(BucketSyncError, ValueError):
    """The request is not signed with the shared secret, or not recently; says which."""


def _digest(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The headers that sign ``body``."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: f"{VERSION}={_digest(secret, timestamp, body)}",
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> None:
    """Return if ``headers`` sign ``body`` with ``secret`` within ``tolerance``; else raise.

    ``headers`` is looked up case-insensitively when it is a plain dict (HTTP names are).
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower())
    signature = lowered.get(SIGNATURE_HEADER.lower())
    if not timestamp or not signature:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not a Unix time") from None
    if abs((time.time() if now is None else now) - sent) > tolerance:
        raise SignatureError(f"{TIMESTAMP_HEADER} is more than {tolerance:g} s away from now")
    expected = f"{VERSION}={_digest(secret, timestamp, body)}"
    # Several signatures may be sent (a secret being rotated): any one that matches will do.
    if not any(hmac.compare_digest(expected, given.strip()) for given in signature.split(",")):
        raise SignatureError("signature does not match the body")
