"""The forwarding Lambda with credentials in API_ENDPOINT: they go to the endpoint and nowhere
else, not into a log line nor an error (an answer quoting them included); user info and an
endpoint that is not an HTTP URL are refused at start."""

from __future__ import annotations

import json

import pytest

from bucketsync.errors import ConfigurationError, RefusedError, RetryableError
from bucketsync.runtimes.forwarder import PATH, Forwarder
from bucketsync.settings import Settings
from tests.events import event_text
from tests.unit.forwarding import CONTEXT, SECRET, TOKEN, _app, _record, forwarder
from tests.unit.scripted_server import Script

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
