"""The forwarding Lambda: ``bucketsync.runtimes.forwarder.handler``.

It receives S3 events (directly, or through SNS, EventBridge or SQS) and POSTs them to a
bucketsync service's ``/api/v1/s3-notification``, which mirrors them (seed 004's design, with
its failure modes fixed):

* Signed: HMAC over the timestamp, method, path, query and body (``bucketsync.signing``,
  exactly the request it sends) and/or a bearer token.
* Bounded: a timeout per attempt, retries with exponential backoff and full jitter on what
  may pass (connection errors, timeouts, 429, 5xx), and never past the invocation's deadline.
* Loud: what never succeeds is a Lambda error, so S3's and Lambda's asynchronous retries, or
  SQS's redrive, deliver it again and the DLQ keeps what still fails. An SQS batch is forwarded
  a message at a time and answered with ``batchItemFailures``, so one failure retries alone.

Standard library only (urllib): the artefact stays small, no HTTP client in it.
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bucketsync.errors import (
    BucketSyncError,
    ConfigurationError,
    MalformedEventError,
    RetryableError,
)
from bucketsync.events import parse_message
from bucketsync.logs import json_logger
from bucketsync.runtimes.invocations import is_sqs_batch
from bucketsync.settings import Settings
from bucketsync.signing import sign, target

log = logging.getLogger(__name__)

PATH = "/api/v1/s3-notification"
BACKOFF_BASE = 0.2  # seconds before the second attempt, doubling each time
BACKOFF_CAP = 5.0
# Answers that another attempt may change; any other 4xx is the service refusing the request.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class RefusedError(BucketSyncError):
    """The service answered with a status no retry will change (a 4xx: signature, body)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    status: int
    attempts: int


Sleep = Callable[[float], None]
Remaining = Callable[[], float | None]  # seconds left in the invocation; None: no deadline


class Forwarder:
    """POSTs one body to the service, with the retry policy above."""

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not settings.api_endpoint:
            raise ConfigurationError(
                "the forwarder needs API_ENDPOINT (or BUCKETSYNC_API_ENDPOINT)"
            )
        self.url = endpoint_url(settings.api_endpoint)
        self._path, self._query = target(self.url)  # what the service will see, and check
        self.timeout = settings.timeout_seconds
        self.attempts = settings.retry_attempts
        self._secret = settings.hmac_secret.get_secret_value() if settings.hmac_secret else None
        self._token = settings.api_token.get_secret_value() if settings.api_token else None
        self._sleep = sleep
        self._rng = rng or random.Random()

    def post(self, body: bytes, remaining: Remaining = lambda: None) -> Delivery:
        """Deliver ``body``; RetryableError when every attempt failed, RefusedError on a 4xx."""
        problem = ""
        for attempt in range(1, self.attempts + 1):
            left = remaining()
            # An attempt that cannot finish before Lambda stops would be cut off mid-request.
            timeout = self.timeout if left is None else min(self.timeout, left - 1.0)
            if timeout <= 0:
                problem = "no time left in the invocation"
                break
            try:
                status = self._send(body, timeout)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                problem = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            else:
                if status < 300:
                    return Delivery(status, attempt)
                problem = f"HTTP {status}"
            if attempt < self.attempts:
                # Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): retries
                # of many functions spread out instead of hitting a recovering service together.
                pause = self._rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))
                left = remaining()
                if left is not None and pause >= left - 1.0:
                    break
                log.warning(
                    "POST %s failed (%s); attempt %d in %.2f s",
                    self.url,
                    problem,
                    attempt + 1,
                    pause,
                )
                self._sleep(pause)
        raise RetryableError(f"POST {self.url} failed after {attempt} attempt(s): {problem}")

    def _send(self, body: bytes, timeout: float) -> int:
        headers = {"Content-Type": "application/json", "User-Agent": "bucketsync-forwarder"}
        if self._secret:
            headers |= sign(self._secret, body, method="POST", path=self._path, query=self._query)
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                answer.read()
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace")
            if exc.code in RETRY_STATUSES:
                return int(exc.code)
            raise RefusedError(f"POST {self.url}: HTTP {exc.code}: {detail}") from None


def endpoint_url(api_endpoint: str) -> str:
    """``API_ENDPOINT`` with ``PATH`` appended to its path; its query, if any, is kept."""
    parts = urlsplit(api_endpoint)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + PATH, fragment=""))


class ForwarderApp:
    """The handler's state, built once per execution environment."""

    def __init__(self, settings: Settings | None = None, forwarder: Forwarder | None = None):
        self.settings = with_stored_secret(settings or Settings())
        self.logger = json_logger(self.settings)
        self.forwarder = forwarder or Forwarder(self.settings)

    def handle(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        clock = getattr(context, "get_remaining_time_in_millis", None)

        def remaining() -> float | None:
            return clock() / 1000 if callable(clock) else None

        if is_sqs_batch(event):
            return self._batch(event["Records"], remaining)
        body = json.dumps(event, separators=(",", ":")).encode()
        _validate(body)  # poison raises here, before any POST: the DLQ gets it as it came
        delivery = self.forwarder.post(body, remaining)
        self.logger.info(
            "forwarded", extra={"status": delivery.status, "attempts": delivery.attempts}
        )
        return {"status": delivery.status, "attempts": delivery.attempts}

    def _batch(self, records: list[Mapping[str, Any]], remaining: Remaining) -> dict[str, Any]:
        failures: list[dict[str, str]] = []
        for record in records:
            message_id = str(record.get("messageId", ""))
            body = str(record.get("body", "")).encode()
            try:
                _validate(body)
                self.forwarder.post(body, remaining)
            except (MalformedEventError, RetryableError, RefusedError) as exc:
                self.logger.warning(
                    "not forwarded", extra={"message_id": message_id, "reason": str(exc)}
                )
                failures.append({"itemIdentifier": message_id})
        self.logger.info(
            "batch forwarded", extra={"messages": len(records), "failed": len(failures)}
        )
        return {"batchItemFailures": failures}


def with_stored_secret(settings: Settings) -> Settings:
    """``settings`` with the HMAC secret read from SSM when it names a parameter for it."""
    name = settings.hmac_secret_parameter
    if not name or settings.hmac_secret is not None:
        return settings
    # Imported here: only a deployed forwarder reads SSM (boto3 is in Lambda's runtime).
    from bucketsync.aws.clients import Clients  # noqa: PLC0415
    from bucketsync.aws.ssm import read_secret  # noqa: PLC0415

    secret = read_secret(Clients(settings).client("ssm"), name)
    return settings.override(hmac_secret=secret)


def _validate(body: bytes) -> None:
    """The same parser as the event path: what it refuses, the service would refuse too."""
    parse_message(body)


_app: ForwarderApp | None = None


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    global _app  # noqa: PLW0603 - one app per execution environment, built on first use
    if _app is None:
        _app = ForwarderApp()
    return _app.handle(event, context)
