"""The forwarding Lambda as its tests (``test_forwarder_*.py``) make it: a secret and a token,
an SQS record, a Forwarder or a ForwarderApp pointed at a URL, and a signature verified as the
service verifies it."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

from pydantic import SecretStr

from bucketsync.runtimes.forwarder import Forwarder, ForwarderApp
from bucketsync.settings import Settings
from bucketsync.signing import verify

SECRET = "shh-forwarder-secret"
TOKEN = "tok-0123456789abcdef"
CONTEXT = SimpleNamespace(get_remaining_time_in_millis=lambda: 60_000)


def _record(message_id: str, body: str) -> dict[str, str]:
    return {"messageId": message_id, "body": body, "eventSource": "aws:sqs"}


def forwarder(url: str, sleeps: list[float], **settings: Any) -> Forwarder:
    values: dict[str, Any] = {"api_endpoint": url, "hmac_secret": SECRET, "retry_attempts": 4}
    values |= settings
    return Forwarder(Settings(**values), sleep=sleeps.append, rng=random.Random(7))


def received(headers: dict[str, str], method: str, request_target: str, body: bytes) -> None:
    """Verify as the service does, from what the server got on the wire: the path decoded as
    an ASGI server decodes it, the query as sent."""
    raw_path, _, query = request_target.partition("?")
    verify(SECRET, headers, body, method=method, path=unquote(raw_path), query=query)


def _app(url: str, **settings: Any) -> ForwarderApp:
    values: dict[str, Any] = {
        "api_endpoint": url,
        "hmac_secret": SecretStr(SECRET),
        "api_token": SecretStr(TOKEN),
        "retry_attempts": 3,
    }
    return ForwarderApp(Settings(**(values | settings)))
