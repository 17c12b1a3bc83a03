"""The forwarding Lambda delivering S3 notifications to the sync service over HTTP, signed,
into a mirror of the emulator's bucket."""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI, Request, Response
from pydantic import SecretStr
from tests.integration.service_harness import (
    BEARER,
    SECRET,
    TOKEN,
    put,
    running,
    s3_event,
    service_settings_for,
    wait_for,
)

from bucketsync.api import create_app
from bucketsync.aws.clients import Clients
from bucketsync.errors import RefusedError
from bucketsync.local.stack import Stack
from bucketsync.runtimes.forwarder import PATH, ForwarderApp
from bucketsync.settings import Settings
from bucketsync.sinks.mirror import local_path

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

CONTEXT = SimpleNamespace(get_remaining_time_in_millis=lambda: 60_000)


def forwarder(url: str, secret: str = SECRET) -> ForwarderApp:
    return ForwarderApp(
        Settings(
            api_endpoint=url, hmac_secret=SecretStr(secret), retry_attempts=2, timeout_seconds=20
        )
    )


def test_a_direct_s3_event_forwarded_and_signed_lands_in_the_mirror(
    settings: Settings, clients: Clients, stack: Stack, tmp_path: Path
) -> None:
    service = service_settings_for(settings, stack, tmp_path)
    key, body = "inbox/report 1.csv", b"id,total\n1,9.50\n"
    with running(create_app(service)) as api:
        put(clients, stack, key, body)
        event = json.loads(s3_event(stack.bucket, key, sequencer="60"))
        # WHEN the forwarder receives the notification S3 sends it
        answer = forwarder(api.base_url).handle(event, CONTEXT)
        # THEN it was delivered on the first attempt and the object is in the mirror
        assert answer == {"status": 200, "attempts": 1}
        assert local_path(Path(str(service.mirror_dir)), key).read_bytes() == body
        # AND a forwarder holding another secret is refused at once, nothing mirrored
        other = "inbox/other.csv"
        put(clients, stack, other, b"x")
        with pytest.raises(RefusedError, match="HTTP 403"):
            forwarder(api.base_url, "not-the-secret-at-all").handle(
                json.loads(s3_event(stack.bucket, other, sequencer="61")), CONTEXT
            )
        assert not local_path(Path(str(service.mirror_dir)), other).exists()


def test_an_sqs_batch_of_moto_notifications_is_forwarded_message_by_message(
    settings: Settings, clients: Clients, stack: Stack, tmp_path: Path
) -> None:
    service = service_settings_for(settings, stack, tmp_path)
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)  # the bucket's s3:TestEvent
    keys = {f"deep/dir {n}/file-{n}.txt": f"body {n}".encode() for n in range(3)}
    for key, body in keys.items():
        put(clients, stack, key, body)
    messages: list[MessageTypeDef] = []

    def received_all() -> bool:
        answer = clients.sqs.receive_message(
            QueueUrl=stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        messages.extend(answer.get("Messages", []))
        return len(messages) >= len(keys)

    wait_for(received_all, "moto's notifications")
    event = {
        "Records": [
            {"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"}
            for m in messages
        ]
        + [{"messageId": "poison", "body": '{"Records": [oops', "eventSource": "aws:sqs"}]
    }
    with running(create_app(service)) as api:
        answer = forwarder(api.base_url).handle(event, CONTEXT)
    # Only the poison message is reported failed; moto's keys (with %2F) all arrived.
    assert answer == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    root = Path(str(service.mirror_dir))
    assert {key: local_path(root, key).read_bytes() for key in keys} == keys


@contextmanager
def redirecting(status: int, location: str) -> Iterator[tuple[str, list[str]]]:
    """A server in front of the service answering every request with a redirect to
    ``location``; yields its URL and the methods it received."""
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.command)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def recorded(service: Settings) -> tuple[FastAPI, list[str]]:
    """The service's app, and the list of every request it receives."""
    app, seen = create_app(service), []

    @app.middleware("http")
    async def record(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        seen.append(f"{request.method} {request.url.path}")
        return await call_next(request)

    return app, seen


@pytest.mark.parametrize(
    "redirect", [(302, "/ping"), (301, PATH), (303, "/ping"), (307, PATH), (308, PATH)]
)
def test_a_redirect_to_the_service_is_not_followed_and_nothing_reaches_it(
    settings: Settings, clients: Clients, stack: Stack, tmp_path: Path, redirect: tuple[int, str]
) -> None:
    status, path = redirect
    service = service_settings_for(settings, stack, tmp_path)
    key = "inbox/redirected.csv"
    app, seen = recorded(service)
    with running(app) as api:
        put(clients, stack, key, b"x")
        event = s3_event(stack.bucket, key, sequencer="70")
        # GIVEN an API_ENDPOINT that redirects to the service (or to a page of it answering 200)
        with redirecting(status, api.base_url + path) as (front, received):
            # WHEN a direct event, then an SQS batch, are forwarded
            with pytest.raises(RefusedError, match=f"HTTP {status}"):
                forwarder(front).handle(json.loads(event), CONTEXT)
            batch = {
                "Records": [{"messageId": "m1", "body": event.decode(), "eventSource": "aws:sqs"}]
            }
            answer = forwarder(front).handle(batch, CONTEXT)
    # THEN neither is reported delivered: the event fails, the message is a batch failure
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    # AND each was POSTed once, and the service received nothing: no token, no signature
    assert received == ["POST", "POST"]
    assert seen == []
    assert not local_path(Path(str(service.mirror_dir)), key).exists()


def test_the_service_config_hides_credentials_in_urls(
    settings: Settings, stack: Stack, tmp_path: Path
) -> None:
    password, key, signature = "Pw-0b7d3e91f2", "K-c5a8e4716d", "S-92fe0b13a7"
    service = service_settings_for(settings, stack, tmp_path)
    assert service.endpoint_url is not None
    # The emulator's own URL with a user and password in it (the service still reaches it).
    emulator = service.endpoint_url.replace("://", f"://admin:{password}@", 1)
    service = service.override(
        api_endpoint=f"https://hook:{password}@sync.example.com/?api_key={key}&region=eu",
        endpoint_url=emulator,
        reconcile_queue_url=f"https://sqs.example.com/1/q?X-Amz-Signature={signature}",
    )
    with running(create_app(service)) as api:
        reply = api.get("/api/v1/config", BEARER)
    assert reply.status == 200, reply.body
    for secret in (password, key, signature, TOKEN, SECRET):
        assert secret.encode() not in reply.body
    shown = reply.json()["settings"]
    assert shown["api_endpoint"] == "https://hook:***@sync.example.com/?api_key=***&region=eu"
    assert shown["endpoint_url"] == emulator.replace(password, "***")
    assert shown["reconcile_queue_url"] == "https://sqs.example.com/1/q?X-Amz-Signature=***"
    assert shown["api_token"] == "**********"
