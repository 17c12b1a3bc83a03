"""The forwarding Lambda against a scripted HTTP server on loopback: signing, retries with
backoff and jitter, refusals, deadlines, and SQS partial batch failures."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import pytest
from pydantic import SecretStr

from bucketsync.errors import ConfigurationError, MalformedEventError, RetryableError
from bucketsync.runtimes.forwarder import PATH, Forwarder, ForwarderApp, RefusedError
from bucketsync.settings import Settings
from bucketsync.signing import SignatureError, verify
from tests.events import event_text, load_event

SECRET = "shh-forwarder-secret"


class Script:
    """The statuses the server answers with, in order (the last one repeats), and what it got."""

    def __init__(self) -> None:
        self.statuses: list[int] = [200]
        self.delay = 0.0
        self.requests: list[tuple[str, dict[str, str], bytes]] = []


@pytest.fixture
def service() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            script.requests.append((self.path, dict(self.headers), body))
            if script.delay:
                threading.Event().wait(script.delay)
            status = script.statuses.pop(0) if len(script.statuses) > 1 else script.statuses[0]
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()
    thread.join()


def forwarder(url: str, sleeps: list[float], **settings: Any) -> Forwarder:
    values: dict[str, Any] = {"api_endpoint": url, "hmac_secret": SECRET, "retry_attempts": 4}
    values |= settings
    return Forwarder(Settings(**values), sleep=sleeps.append, rng=random.Random(7))


def test_a_direct_s3_event_is_posted_once_signed_with_the_secret(
    service: tuple[str, Script],
) -> None:
    url, script = service
    app = ForwarderApp(
        Settings(
            api_endpoint=url + "/",
            hmac_secret=SecretStr(SECRET),
            api_token=SecretStr("tok-0123456789abcdef"),
        )
    )
    event = load_event("s3_put")
    assert app.handle(event) == {"status": 200, "attempts": 1}  # type: ignore[arg-type]
    [(path, headers, body)] = script.requests
    assert path == PATH
    assert json.loads(body) == event
    received(headers, "POST", path, body)  # raises unless signed over exactly this request
    assert headers["Authorization"] == "Bearer tok-0123456789abcdef"


def received(headers: dict[str, str], method: str, request_target: str, body: bytes) -> None:
    """Verify as the service does, from what the server got on the wire: the path decoded as
    an ASGI server decodes it, the query as sent."""
    raw_path, _, query = request_target.partition("?")
    verify(SECRET, headers, body, method=method, path=unquote(raw_path), query=query)


@pytest.mark.parametrize(
    ("endpoint", "expected_target"),
    [
        ("/", PATH),
        ("/hooks/bucket%20sync/", "/hooks/bucket%20sync" + PATH),
        ("/hooks?code=abc%2Fd&x=1", "/hooks" + PATH + "?code=abc%2Fd&x=1"),
        ("/base/?b=2&a=1#ignored", "/base" + PATH + "?b=2&a=1"),
    ],
)
def test_the_signature_covers_the_path_and_query_the_server_received(
    service: tuple[str, Script], endpoint: str, expected_target: str
) -> None:
    url, script = service
    # GIVEN an API_ENDPOINT with a path prefix and/or a query
    body = b'{"Records": []}'
    forwarder(url + endpoint, []).post(body)
    [(request_target, headers, sent)] = script.requests
    # THEN the notification path is appended to its path, its query kept
    assert request_target == expected_target
    # AND the signature verifies against exactly what the server received
    received(headers, "POST", request_target, sent)
    # AND not against another path, another query, or another method
    raw_path, _, query = request_target.partition("?")
    for method, path, other_query in (
        ("POST", "/api/v1/sync", query),
        ("POST", unquote(raw_path), query + "&prefix=x"),
        ("PUT", unquote(raw_path), query),
    ):
        with pytest.raises(SignatureError, match="does not match"):
            verify(SECRET, headers, sent, method=method, path=path, query=other_query)


def test_5xx_and_429_are_retried_with_growing_jittered_pauses(
    service: tuple[str, Script],
) -> None:
    url, script = service
    script.statuses = [503, 429, 500, 200]
    sleeps: list[float] = []
    delivery = forwarder(url, sleeps).post(b'{"Records": []}')
    assert (delivery.status, delivery.attempts) == (200, 4)
    assert len(script.requests) == 4
    # Full jitter: each pause is drawn from [0, 0.2 * 2^n]; never all equal, never above.
    assert all(0 <= pause <= 0.2 * 2**n for n, pause in enumerate(sleeps))
    assert len(sleeps) == 3 and len(set(sleeps)) == 3


def test_every_attempt_failing_is_a_retryable_error_so_lambda_retries(
    service: tuple[str, Script],
) -> None:
    url, script = service
    script.statuses = [502]
    with pytest.raises(RetryableError, match="after 4 attempt"):
        forwarder(url, []).post(b"{}")
    assert len(script.requests) == 4


def test_a_4xx_is_refused_at_once_not_retried(service: tuple[str, Script]) -> None:
    url, script = service
    script.statuses = [401]
    with pytest.raises(RefusedError, match="HTTP 401"):
        forwarder(url, []).post(b"{}")
    assert len(script.requests) == 1


def test_a_service_that_does_not_answer_times_out_and_is_retried(
    service: tuple[str, Script],
) -> None:
    url, script = service
    script.delay = 0.5
    with pytest.raises(RetryableError, match=r"TimeoutError|timed out"):
        forwarder(url, [], timeout_seconds=0.1, retry_attempts=2).post(b"{}")
    assert len(script.requests) == 2


def test_nothing_listening_is_retryable() -> None:
    with pytest.raises(RetryableError, match=r"URLError|ConnectionRefused"):
        forwarder("http://127.0.0.1:9", [], retry_attempts=2).post(b"{}")


def test_no_attempt_starts_without_time_left_in_the_invocation(
    service: tuple[str, Script],
) -> None:
    url, script = service
    with pytest.raises(RetryableError, match="no time left"):
        forwarder(url, []).post(b"{}", remaining=lambda: 0.5)
    assert script.requests == []


def test_a_malformed_event_raises_before_any_post(service: tuple[str, Script]) -> None:
    url, script = service
    app = ForwarderApp(Settings(api_endpoint=url))
    with pytest.raises(MalformedEventError):
        app.handle({"Records": [{"eventSource": "aws:s3", "s3": {}}]})
    assert script.requests == []


def test_an_sqs_batch_reports_only_the_failed_message(service: tuple[str, Script]) -> None:
    url, script = service
    script.statuses = [200, 400, 200]
    good = event_text("moto_s3_sqs_body")
    records = [
        {"messageId": mid, "body": body, "eventSource": "aws:sqs"}
        for mid, body in (("m1", good), ("m2", good), ("m3", "not json"), ("m4", good))
    ]
    app = ForwarderApp(Settings(api_endpoint=url, retry_attempts=1))
    answer = app.handle(
        {"Records": records}, SimpleNamespace(get_remaining_time_in_millis=lambda: 60_000)
    )
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    assert [body for _, _, body in script.requests] == [good.encode()] * 3


def test_no_endpoint_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="API_ENDPOINT"):
        Forwarder(Settings())
