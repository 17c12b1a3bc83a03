"""The forwarding Lambda against a scripted HTTP server on loopback: what each status of the
answer means. A redirect is not followed; every 2xx delivers; a 3xx or a 4xx (but 408, 425 and
429) is permanent; a 5xx (but 504), 408, 425 or 429 is retried; a 504 is unanswered, not sent
again."""

from __future__ import annotations

import pytest

from bucketsync.errors import RefusedError, UnansweredError
from bucketsync.runtimes.forwarder import PATH
from tests.events import event_text, load_event
from tests.unit.forwarding import CONTEXT, TOKEN, _app, _record, forwarder
from tests.unit.scripted_server import Script

# --- redirects and statuses ------------------------------------------------------------------


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
