"""The forwarding Lambda against a scripted HTTP server on loopback: signing, retries with
backoff and jitter, refusals, deadlines, and SQS partial batch failures."""

from __future__ import annotations

import json
import socket
import threading
import time
from types import SimpleNamespace
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
from tests.unit.forwarding import CONTEXT, SECRET, _record, forwarder, received
from tests.unit.scripted_server import Script


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
