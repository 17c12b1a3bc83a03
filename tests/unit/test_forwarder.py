"""The forwarding Lambda against a scripted HTTP server on loopback: signing, retries with
backoff and jitter, refusals, deadlines, and SQS partial batch failures."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import pytest
from pydantic import SecretStr

from bucketsync.errors import (
    ConfigurationError,
    MalformedEventError,
    RefusedError,
    RetryableError,
    SignatureError,
    UnansweredError,
)
from bucketsync.runtimes.forwarder import PATH, Forwarder, ForwarderApp
from bucketsync.settings import Settings
from bucketsync.signing import verify
from tests.events import event_text, load_event

SECRET = "shh-forwarder-secret"
TOKEN = "tok-0123456789abcdef"
CONTEXT = SimpleNamespace(get_remaining_time_in_millis=lambda: 60_000)


def _record(message_id: str, body: str) -> dict[str, str]:
    return {"messageId": message_id, "body": body, "eventSource": "aws:sqs"}


class Script:
    """The statuses the server answers with, in order (the last one repeats), and what it got."""

    def __init__(self) -> None:
        self.statuses: list[int] = [200]
        self.delay = 0.0
        self.delays: list[float] = []  # per request, before self.delay applies
        self.location = ""  # the Location header of a 3xx
        self.answer = b"{}"
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.methods: list[str] = []


@contextmanager
def serving(script: Script) -> Iterator[str]:
    """A loopback HTTP server answering every method as ``script`` says; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            script.methods.append(self.command)
            script.requests.append((self.path, dict(self.headers), body))
            delay = script.delays.pop(0) if script.delays else script.delay
            if delay:
                threading.Event().wait(delay)
            status = script.statuses.pop(0) if len(script.statuses) > 1 else script.statuses[0]
            self.send_response(status)
            if script.location:
                self.send_header("Location", script.location)
            if status == 204:
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(script.answer)))
            self.end_headers()
            # A client that gave up waiting has closed its end: nothing to answer.
            with contextlib.suppress(ConnectionError):
                self.wfile.write(script.answer)

        do_POST = do_GET = do_PUT = do_HEAD = _answer

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def service() -> Iterator[tuple[str, Script]]:
    script = Script()
    with serving(script) as url:
        yield url, script


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, Script]]:
    """A second server: where a redirect points, recording anything that reaches it."""
    script = Script()
    with serving(script) as url:
        yield url, script


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


def test_a_post_sent_whole_and_unanswered_in_time_is_not_sent_again(
    service: tuple[str, Script],
) -> None:
    url, script = service
    # GIVEN a service still applying the notification when the timeout passes
    script.delay = 0.5
    sleeps: list[float] = []
    # WHEN the forwarder gives up waiting for its answer
    with pytest.raises(UnansweredError, match=r"no answer within 0.1 s"):
        forwarder(url, sleeps, timeout_seconds=0.1, retry_attempts=4).post(b"{}")
    # THEN it sent it once: no re-send while the service may still be applying it
    assert len(script.requests) == 1
    assert sleeps == []


def test_an_unanswered_message_fails_alone_and_the_batch_goes_on(
    service: tuple[str, Script],
) -> None:
    url, script = service
    script.delays = [0.5]  # the first POST is slow, the next ones are not
    good = event_text("moto_s3_sqs_body")
    records = [_record("slow", good), _record("next", good)]
    app = ForwarderApp(Settings(api_endpoint=url, retry_attempts=3, timeout_seconds=0.1))
    answer = app.handle({"Records": records}, CONTEXT)
    # The slow one comes back after the queue's visibility timeout, not at once.
    assert answer == {"batchItemFailures": [{"itemIdentifier": "slow"}]}
    assert len(script.requests) == 2


def test_the_timeout_of_a_post_never_outlasts_the_invocation(
    service: tuple[str, Script],
) -> None:
    url, script = service
    script.delay = 3.0
    started = time.monotonic()
    with pytest.raises(UnansweredError, match=r"no answer within 0.3 s"):
        forwarder(url, [], timeout_seconds=30).post(b"{}", remaining=lambda: 1.3)
    assert time.monotonic() - started < 1.5
    assert len(script.requests) == 1


def test_an_answer_that_is_not_http_is_retried_not_a_crash() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def answer_nonsense() -> None:
            for _ in range(2):
                connection, _ = listener.accept()
                with connection:
                    connection.recv(65536)
                    connection.sendall(b"nonsense\r\n\r\n")

        thread = threading.Thread(target=answer_nonsense, daemon=True)
        thread.start()
        with pytest.raises(RetryableError, match=r"after 2 attempt.*BadStatusLine"):
            forwarder(f"http://127.0.0.1:{port}", [], retry_attempts=2).post(b"{}")
        thread.join(5)


def test_nothing_listening_is_retried_the_post_was_never_sent() -> None:
    with pytest.raises(RetryableError, match=r"after 2 attempt.*(URLError|ConnectionRefused)"):
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
        _record(mid, body)
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


# --- redirects and statuses ------------------------------------------------------------------


def _app(url: str, **settings: Any) -> ForwarderApp:
    values: dict[str, Any] = {
        "api_endpoint": url,
        "hmac_secret": SecretStr(SECRET),
        "api_token": SecretStr(TOKEN),
        "retry_attempts": 3,
    }
    return ForwarderApp(Settings(**(values | settings)))


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_the_message_is_reported_failed(
    service: tuple[str, Script], elsewhere: tuple[str, Script], status: int
) -> None:
    url, script = service
    target_url, target = elsewhere
    # GIVEN an API_ENDPOINT answering with a redirect to another server
    script.statuses = [status]
    script.location = target_url + PATH
    # WHEN an SQS batch is forwarded
    answer = _app(url).handle({"Records": [_record("m1", event_text("moto_s3_sqs_body"))]}, CONTEXT)
    # THEN the message is reported failed (SQS redelivers it, then its DLQ keeps it)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    # AND the other server, which would have answered 200, received nothing: no token, no
    # signature, no event
    assert target.statuses == [200]
    assert target.requests == []
    # AND the endpoint got the one POST, with its credentials: a redirect is not a reason to
    # try again
    assert script.methods == ["POST"]
    [(_, headers, _)] = script.requests
    assert headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirected_direct_event_is_an_error_not_delivered(
    service: tuple[str, Script], elsewhere: tuple[str, Script], status: int
) -> None:
    url, script = service
    target_url, target = elsewhere
    script.statuses = [status]
    script.location = f"{target_url}/login?next=1&token=Tk-9e0f5d&sig=Sg-77a1"
    with pytest.raises(RefusedError, match=rf"HTTP {status}.*not followed") as refused:
        _app(url).handle(load_event("s3_put"), CONTEXT)  # type: ignore[arg-type]
    assert target.requests == []
    assert script.methods == ["POST"]
    # The error names where the redirect pointed, its credentials hidden.
    assert "Tk-9e0f5d" not in str(refused.value) and "Sg-77a1" not in str(refused.value)
    assert "token=***&sig=***" in str(refused.value)


def test_a_relative_redirect_to_the_same_server_is_not_followed(
    service: tuple[str, Script],
) -> None:
    url, script = service
    script.statuses = [302]
    script.location = "/somewhere/else"
    with pytest.raises(RefusedError, match="HTTP 302"):
        forwarder(url, []).post(b"{}")
    assert script.methods == ["POST"]


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_every_2xx_is_delivered_whatever_its_body_says(
    service: tuple[str, Script], status: int
) -> None:
    url, script = service
    script.statuses = [status]
    script.answer = b'{"status": 500, "error": "HTTP 503 upstream", "delivered": false}'
    delivery = forwarder(url, []).post(b"{}")
    assert (delivery.status, delivery.attempts) == (status, 1)


@pytest.mark.parametrize("status", [300, 304, 305, 400, 401, 403, 404, 405, 409, 413, 422, 451])
def test_a_3xx_or_a_4xx_but_408_425_429_is_permanent(
    service: tuple[str, Script], status: int
) -> None:
    url, script = service
    script.statuses = [status]
    with pytest.raises(RefusedError, match=f"HTTP {status}"):
        forwarder(url, []).post(b"{}")
    assert len(script.requests) == 1


@pytest.mark.parametrize("status", [408, 425, 429, 500, 501, 502, 503, 507])
def test_a_5xx_but_504_408_425_or_429_is_retried(service: tuple[str, Script], status: int) -> None:
    url, script = service
    script.statuses = [status, 200]
    delivery = forwarder(url, []).post(b"{}")
    assert (delivery.status, delivery.attempts) == (200, 2)


def test_a_504_from_a_gateway_is_unanswered_not_sent_again(service: tuple[str, Script]) -> None:
    url, script = service
    # GIVEN a proxy in front of the service that gives up waiting before the forwarder does
    script.statuses = [504, 200]
    sleeps: list[float] = []
    # WHEN it answers 504: the service had the whole request and may still be applying it
    with pytest.raises(UnansweredError, match="HTTP 504"):
        forwarder(url, sleeps).post(b"{}")
    # THEN it is not sent again in this invocation: SQS redelivers it later
    assert len(script.requests) == 1
    assert sleeps == []


# --- credentials in API_ENDPOINT -------------------------------------------------------------

KEY_VALUE = "Kv-8d2f61c0aa"
CODE_VALUE = "Cv-41b9e07d3c"


def test_log_lines_and_errors_of_a_failing_post_hide_the_endpoints_credentials(
    service: tuple[str, Script], capsys: pytest.CaptureFixture[str]
) -> None:
    url, script = service
    script.statuses = [503]
    endpoint = f"{url}/hook?api_key={KEY_VALUE}&code={CODE_VALUE}&region=eu"
    app = _app(endpoint, retry_attempts=2)
    answer = app.handle({"Records": [_record("m1", event_text("moto_s3_sqs_body"))]}, CONTEXT)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    # The credentials went where they are meant to: the configured endpoint.
    assert all(f"api_key={KEY_VALUE}" in path for path, _, _ in script.requests)
    logged = capsys.readouterr()
    lines = [json.loads(line) for line in logged.out.splitlines() if line.startswith("{")]
    shown = json.dumps(lines) + logged.err
    assert KEY_VALUE not in shown and CODE_VALUE not in shown
    assert SECRET not in shown and TOKEN not in shown
    # ...and what is logged still says which endpoint failed, and how.
    assert any("api_key=***&code=***&region=eu" in line["message"] for line in lines)
    failed = [line for line in lines if line["message"] == "not forwarded"]
    assert "api_key=***&code=***&region=eu" in failed[0]["reason"]
    assert "HTTP 503" in failed[0]["reason"]
    # The error a direct invocation raises (Lambda logs it) hides them too.
    with pytest.raises(RetryableError) as failure:
        app.forwarder.post(b"{}")
    assert KEY_VALUE not in str(failure.value) and "api_key=***" in str(failure.value)


def test_a_refusal_hides_the_endpoints_credentials(service: tuple[str, Script]) -> None:
    url, script = service
    script.statuses = [403]
    with pytest.raises(RefusedError, match="HTTP 403") as refused:
        forwarder(f"{url}/?token={KEY_VALUE}", []).post(b"{}")
    assert KEY_VALUE not in str(refused.value) and "token=***" in str(refused.value)


def test_a_refusal_quoting_the_url_it_was_asked_for_hides_its_credentials(
    service: tuple[str, Script],
) -> None:
    url, script = service
    # GIVEN a server whose 404 page quotes the request, query and Authorization header included
    script.statuses = [404]
    endpoint = f"{url}/hook?api_key={KEY_VALUE}&code={CODE_VALUE}%2B1"
    script.answer = (
        f"no route for /hook{PATH}?api_key={KEY_VALUE}&code={CODE_VALUE}%2B1 "
        f"(code {CODE_VALUE}+1, Authorization: Bearer {TOKEN})"
    ).encode()
    with pytest.raises(RefusedError, match="HTTP 404") as refused:
        _app(endpoint).forwarder.post(b"{}")
    shown = str(refused.value)
    for secret in (KEY_VALUE, CODE_VALUE, TOKEN):
        assert secret not in shown
    # What the service said is still there, the credentials masked.
    assert f"no route for /hook{PATH}?api_key=***&code=***" in shown


def test_a_user_and_password_in_api_endpoint_is_refused_without_showing_it() -> None:
    # urllib cannot send user info (it takes "user:pass@host" for the host): say so at start.
    with pytest.raises(ConfigurationError, match="user info") as refused:
        Forwarder(Settings(api_endpoint=f"https://hook:{KEY_VALUE}@sync.example.com/"))
    assert KEY_VALUE not in str(refused.value)
    assert "https://hook:***@sync.example.com/" in str(refused.value)


@pytest.mark.parametrize(
    "endpoint",
    ["file:///etc/passwd", "ftp://files.example.com/", "sync.example.com", "http://h:port/"],
)
def test_an_endpoint_that_is_not_an_http_url_is_refused(endpoint: str) -> None:
    with pytest.raises(ConfigurationError, match="API_ENDPOINT"):
        Forwarder(Settings(api_endpoint=endpoint))
