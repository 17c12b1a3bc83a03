"""The forwarding Lambda: ``bucketsync.runtimes.forwarder.handler``.

It receives S3 events (directly, or through SNS, EventBridge or SQS) and POSTs them to a
bucketsync service's ``/api/v1/s3-notification``, which mirrors them (seed 004's design, with
its failure modes fixed):

* Signed: HMAC over the timestamp, method, path, query and body (``bucketsync.signing``,
  exactly the request it sends) and/or a bearer token, sent to ``API_ENDPOINT`` and nowhere
  else: a redirect is never followed (urllib would re-send the token and the signature to
  wherever it points, and turn a 301/302/303 POST into a GET without the body that a page
  answering 200 would have "delivered"). An ``API_ENDPOINT`` that is not an http(s) URL, or
  that holds a user and password (urllib would take them for the host), is refused at start.
* Answers: only a 2xx delivers, whatever its body. A 3xx and a 4xx but 408, 425 and 429 are
  permanent (``RefusedError``): no attempt will change them, so the event fails at once, into
  the batch's ``batchItemFailures`` and, after the queue's ``maxReceiveCount``, its DLQ. A 5xx
  but 504, 408, 425, 429, a connection that fails or drops, an answer that is not HTTP, are
  transient. A 504 is a gateway in front of the service that stopped waiting for its answer:
  unanswered, as below.
* Bounded: transient failures are retried with exponential backoff and full jitter, and no
  attempt's timeout reaches past the invocation's deadline (less ``MARGIN``, to answer).
* Not re-sent blindly: a POST whose request was sent whole and whose answer did not come
  within the timeout may still be being applied (a notification of 10,000 records takes the
  service 41.5 s, against a 30 s timeout). Sending it again at once would only stack another
  copy of the same work on a service that is already behind, every retry making it later. So
  that message is not retried in this invocation (``UnansweredError``): it is reported failed
  and SQS delivers it again after its visibility timeout (a direct event: Lambda's
  asynchronous retry, a minute later), by when the first copy is applied; the service weighs
  each change by its ordering stamp, so the second delivery is a no-op. A failure before the
  request was sent whole (connecting, sending) is retried at once as before: the service
  cannot have acted on it.
* Which of the two fixes: the re-send is sized, not the answer. The service still applies a
  notification before it answers (no accept-then-apply: a 2xx means applied), and
  ``TIMEOUT_SECONDS`` stays 30 s; what waits longer than the longest apply is the re-send,
  after the queue's visibility timeout (the mirror stack's ``QueueVisibilityTimeout``, 360 s,
  at least six times ``FunctionTimeout``). A service that can take longer than that to apply
  one notification needs a longer visibility timeout (docs/deploy.md).
* Loud: what never succeeds is a Lambda error, so S3's and Lambda's asynchronous retries, or
  SQS's redrive, deliver it again and the DLQ keeps what still fails. An SQS batch is forwarded
  a message at a time and answered with ``batchItemFailures``, so one failure retries alone.
* Discreet: the endpoint is logged and named in errors through ``bucketsync.redact.url``, its
  credentials (``?api_key=``, ``?code=``...) as ``***``; a refusal's body, which may quote the
  URL it was asked for, has them (and the token and secret) scrubbed out too.

Standard library only (urllib): the artefact stays small, no HTTP client in it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bucketsync import redact
from bucketsync.errors import (
    ConfigurationError,
    MalformedEventError,
    RefusedError,
    RetryableError,
    UnansweredError,
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
MARGIN = 1.0  # seconds of the invocation kept to log and answer after the last attempt
# The 4xx that another attempt may change; any other 4xx is the service refusing the request.
# 425 (Too Early, RFC 8470) asks for exactly that: the same request again, later.
RETRY_4XX = frozenset({408, 425, 429})
GATEWAY_TIMEOUT = 504  # a proxy gave up waiting: the service may be applying the request
DETAIL_BYTES = 500  # of a refusal's body, for the log: what the service said was wrong
# What http.client refuses in a URL, found at start rather than as every POST's error.
_UNSENDABLE = re.compile(r"[\x00-\x20\x7f]")


@dataclass(frozen=True, slots=True)
class Delivery:
    status: int
    attempts: int


Sleep = Callable[[float], None]
Remaining = Callable[[], float | None]  # seconds left in the invocation; None: no deadline


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Replaces urllib's redirect handler: no redirect is followed, so the 3xx reaches
    ``_send`` as an ``HTTPError`` (urllib's default error handler raises it)."""

    def redirect_request(  # noqa: PLR0917 - urllib's signature, called positionally
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> None:
        return None


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
        self.url = endpoint_url(_checked(settings.api_endpoint))
        self.shown = redact.url(self.url)  # the URL as logs and errors name it
        self._path, self._query = target(self.url)  # what the service will see, and check
        self.timeout = settings.timeout_seconds
        self.attempts = settings.retry_attempts
        self._secret = settings.hmac_secret.get_secret_value() if settings.hmac_secret else None
        self._token = settings.api_token.get_secret_value() if settings.api_token else None
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._opener = urllib.request.build_opener(_RefuseRedirects)
        # What no log line or error may show, even quoted back by the service or a proxy.
        held = [value for value in (self._secret, self._token) if value]
        self._hidden = sorted(redact.hidden_in(self.url) + held, key=len, reverse=True)

    def post(self, body: bytes, remaining: Remaining = lambda: None) -> Delivery:
        """Deliver ``body``. RefusedError on a 3xx or 4xx, UnansweredError when the answer did
        not come in time, RetryableError when every attempt failed otherwise."""
        problem = ""
        for attempt in range(1, self.attempts + 1):
            left = remaining()
            # An attempt that cannot finish before Lambda stops would be cut off mid-request.
            timeout = self.timeout if left is None else min(self.timeout, left - MARGIN)
            if timeout <= 0:
                problem = "no time left in the invocation"
                break
            try:
                status = self._send(body, timeout)
            except urllib.error.URLError as exc:
                # Raised by urllib while connecting or sending: the request never arrived whole.
                problem = f"{type(exc).__name__}: {exc.reason}"
            except TimeoutError:
                # Raised bare while waiting for the status line: the service has it all.
                raise UnansweredError(
                    f"POST {self.shown}: no answer within {timeout:.3g} s to a request sent "
                    f"whole (attempt {attempt}); not sent again now, the service may be "
                    "applying it"
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                # The connection dropped, or what came back is not HTTP: try again.
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= status < 300:
                    return Delivery(status, attempt)
                if status == GATEWAY_TIMEOUT:
                    raise UnansweredError(
                        f"POST {self.shown}: HTTP 504, a gateway had no answer from the service "
                        f"in time (attempt {attempt}); not sent again now, the service may be "
                        "applying it"
                    )
                problem = f"HTTP {status}"
            if attempt < self.attempts:
                # Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): retries
                # of many functions spread out instead of hitting a recovering service together.
                pause = self._rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))
                left = remaining()
                if left is not None and pause >= left - MARGIN:
                    break
                log.warning(
                    "POST %s failed (%s); attempt %d in %.2f s",
                    self.shown,
                    problem,
                    attempt + 1,
                    pause,
                )
                self._sleep(pause)
        raise RetryableError(f"POST {self.shown} failed after {attempt} attempt(s): {problem}")

    def _send(self, body: bytes, timeout: float) -> int:
        """The status of one POST: a 2xx, or one worth retrying; RefusedError otherwise."""
        request = urllib.request.Request(
            self.url, data=body, headers=self._headers(body), method="POST"
        )
        try:
            with self._opener.open(request, timeout=timeout) as answer:
                status = int(answer.status)
                # Delivered, whatever the body says and however it ends: read only to close.
                with contextlib.suppress(OSError, http.client.HTTPException):
                    answer.read()
                return status
        except urllib.error.HTTPError as exc:  # urllib's name for any answer but a 2xx
            with exc:
                if exc.code >= 500 or exc.code in RETRY_4XX:
                    return int(exc.code)
                why = self._hide(_why(exc))
                raise RefusedError(f"POST {self.shown}: HTTP {exc.code}: {why}") from None

    def _hide(self, text: str) -> str:
        """``text`` with every credential the forwarder holds replaced by ``***``."""
        for value in self._hidden:
            text = text.replace(value, redact.MASK)
        return text

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "bucketsync-forwarder"}
        if self._secret:
            headers |= sign(self._secret, body, method="POST", path=self._path, query=self._query)
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers


def _why(refusal: urllib.error.HTTPError) -> str:
    """What a refusal says: where a redirect pointed (credentials hidden), or the body's start."""
    if 300 <= refusal.code < 400:
        location = refusal.headers.get("Location") or "nowhere"
        return (
            f"redirect to {redact.url(location)} not followed (set API_ENDPOINT to the "
            "service's own URL: the token and signature go to it only)"
        )
    try:
        return refusal.read(DETAIL_BYTES).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return "(no body)"


def _checked(api_endpoint: str) -> str:
    """``api_endpoint``, or ConfigurationError naming (redacted) what urllib could not send."""
    shown = redact.url(api_endpoint)
    problem = ""
    try:
        parts = urlsplit(api_endpoint)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        # Not urllib's message: it quotes the port, which may be a password missing its "@".
        problem = "its port is not a number, or its [IPv6] host is not closed"
    else:
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            problem = "it is not an http:// or https:// URL with a host"
        elif "@" in parts.netloc:
            problem = (
                "it holds user info, which the forwarder does not send (and which would be "
                "taken for the host): authenticate with BUCKETSYNC_API_TOKEN or "
                "BUCKETSYNC_HMAC_SECRET"
            )
        elif _UNSENDABLE.search(api_endpoint):
            problem = "it holds spaces or control characters (percent-encode them)"
    if problem:
        raise ConfigurationError(f"API_ENDPOINT {shown}: {problem}")
    return api_endpoint


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
