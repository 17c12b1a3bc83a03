"""The HTTP sync service over real HTTP (uvicorn, the emulator): information, authentication,
notifications. Harness: ``service_harness``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.events import load_event
from tests.integration.service_harness import (
    BEARER,
    LOOPBACK,
    SECRET,
    TOKEN,
    Http,
    download_path,
    put,
    running,
    s3_event,
    signed,
)

from bucketsync.api import create_app
from bucketsync.aws.clients import Clients
from bucketsync.local.emulator import free_port
from bucketsync.local.stack import Stack
from bucketsync.settings import Settings
from bucketsync.signing import TIMESTAMP_HEADER

POST_ROUTES = ("/api/v1/sync", "/api/v1/s3-notification")


# --- service information ------------------------------------------------------------------------


def test_root_ping_docs_and_openapi_answer(api: Http, service_settings: Settings) -> None:
    # WHEN the informational routes are read
    root, ping, docs, spec = (api.get(path) for path in ("/", "/ping", "/docs", "/openapi.json"))
    # THEN each answers 200 with what it promises
    assert root.status == 200
    info = root.json()
    assert info["bucket"] == service_settings.bucket
    assert info["auth"] is True
    assert info["links"]["health"]["href"] == f"{api.base_url}/api/v1/health"
    assert ping.status == 200
    assert ping.json()["status"] == "ok"
    assert docs.status == 200
    assert b"swagger" in docs.body.lower()
    paths = spec.json()["paths"]
    assert {
        "/",
        "/ping",
        "/api/v1/health",
        "/api/v1/config",
        "/api/v1/stats",
        "/api/v1/sync",
        "/api/v1/sync/{job_id}",
        "/api/v1/s3-notification",
        "/api/v1/files",
        "/api/v1/download/{path}",
    } <= set(paths)


def test_config_shows_settings_and_never_the_secrets(api: Http) -> None:
    # WHEN the configuration is read
    reply = api.get("/api/v1/config")
    # THEN it says authentication is on, and neither the token nor the secret appears anywhere
    assert reply.status == 200
    assert reply.json()["auth"] == {
        "bearer": True,
        "hmac": True,
        "required": True,
        "loopback_only": False,
    }
    assert reply.json()["settings"]["api_token"] == "**********"
    assert TOKEN.encode() not in reply.body
    assert SECRET.encode() not in reply.body


# --- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", POST_ROUTES)
def test_post_routes_refuse_missing_or_wrong_credentials(
    api: Http, clients: Clients, stack: Stack, route: str
) -> None:
    # GIVEN an object and a notification of it
    put(clients, stack, "k.txt", b"data")
    body = s3_event(stack.bucket, "k.txt", sequencer="0A") if "notification" in route else b""
    stale = time.time() - 3600
    # WHEN it is posted without credentials, or with wrong ones
    refused = {
        "none": api.post(route, body),
        "wrong token": api.post(route, body, {"Authorization": "Bearer nope"}),
        "not bearer": api.post(route, body, {"Authorization": f"Basic {TOKEN}"}),
        "wrong secret": api.post(route, body, signed(body, "not-the-secret")),
        "stale signature": api.post(route, body, signed(body, now=stale)),
        "other body": api.post(route, body, signed(body + b" ")),
        "timestamp only": api.post(route, body, {TIMESTAMP_HEADER: str(int(time.time()))}),
    }
    # THEN every one is refused: 401 when nothing was offered, 403 when it was wrong
    assert {name: reply.status for name, reply in refused.items()} == {
        "none": 401,
        "wrong token": 403,
        "not bearer": 401,
        "wrong secret": 403,
        "stale signature": 403,
        "other body": 403,
        "timestamp only": 403,
    }
    assert refused["none"].headers["www-authenticate"] == "Bearer"
    assert "more than" in refused["stale signature"].json()["detail"]
    # AND nothing reached the mirror
    assert api.get("/api/v1/files?source=local").json()["files"] == []
    assert api.get("/api/v1/stats").json()["notifications"]["received"] == 0


def test_bearer_token_and_hmac_signature_are_both_accepted(
    api: Http, clients: Clients, stack: Stack
) -> None:
    put(clients, stack, "a.txt", b"a")
    put(clients, stack, "b.txt", b"b")
    body_a = s3_event(stack.bucket, "a.txt", sequencer="0A")
    body_b = s3_event(stack.bucket, "b.txt", sequencer="0B")
    # WHEN one notification comes with the token and the other signed with the secret
    by_token = api.post("/api/v1/s3-notification", body_a, BEARER)
    by_signature = api.post("/api/v1/s3-notification", body_b, signed(body_b))
    # AND a sync is asked for with a signature (of its empty body)
    sync = api.post("/api/v1/sync", b"", signed(b""))
    # THEN all are carried out
    assert (by_token.status, by_signature.status, sync.status) == (200, 200, 200)
    assert api.get("/api/v1/download/a.txt").body == b"a"
    assert api.get("/api/v1/download/b.txt").body == b"b"


def test_without_credentials_configured_post_routes_are_open(
    service_settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN a service with neither a token nor a secret
    settings = service_settings.model_copy(update={"api_token": None, "hmac_secret": None})
    put(clients, stack, "open.txt", b"open")
    with running(create_app(settings)) as api:
        # WHEN a sync is asked for without credentials
        reply = api.post("/api/v1/sync")
        config = api.get("/api/v1/config").json()
    # THEN it runs, and the configuration says the service is loopback-only
    assert reply.status == 200, reply.body
    assert reply.json()["successful_operations"] == 1
    assert config["auth"]["required"] is False
    assert config["auth"]["loopback_only"] is True


# --- notifications ------------------------------------------------------------------------------


def test_a_notification_mirrors_the_object_and_a_later_delete_removes_it(
    api: Http, clients: Clients, stack: Stack, service_settings: Settings
) -> None:
    # GIVEN an object whose key needs decoding, and the golden notification of its creation
    key = "in/sub dir/a+b é.txt"
    put(clients, stack, key, b"hello, mirror")
    # WHEN the notification is posted
    reply = api.post("/api/v1/s3-notification", s3_event(stack.bucket, key, sequencer="10"), BEARER)
    # THEN it is applied, and the file downloads with the object's bytes
    assert reply.status == 200, reply.body
    assert reply.json()["status"] == "applied"
    assert reply.json()["outcomes"] == {"mirror": {"applied": 1}}
    got = api.get(download_path(key))
    assert got.status == 200
    assert got.body == b"hello, mirror"
    assert "attachment" in got.headers["content-disposition"]
    assert api.get("/api/v1/files?source=local").json()["files"][0]["key"] == key

    # WHEN the object is deleted and that notification (a later sequencer) arrives
    clients.s3.delete_object(Bucket=stack.bucket, Key=key)
    gone = api.post(
        "/api/v1/s3-notification",
        s3_event(stack.bucket, key, sequencer="20", removed=True),
        BEARER,
    )
    # THEN the file is gone and the download is 404
    assert gone.status == 200, gone.body
    assert api.get(download_path(key)).status == 404
    assert not any(Path(str(service_settings.mirror_dir)).rglob("*.txt"))
    stats = api.get("/api/v1/stats").json()
    assert stats["notifications"] == {"received": 2, "applied": 2, "failed": 0}
    assert stats["mirror"]["downloaded"] == 1
    assert stats["mirror"]["deleted"] == 1


def test_every_envelope_the_event_path_accepts_is_accepted(
    api: Http, clients: Clients, stack: Stack
) -> None:
    # GIVEN the object and its notification wrapped as an SNS notification inside an SQS body
    put(clients, stack, "wrapped.txt", b"wrapped")
    inner = s3_event(stack.bucket, "wrapped.txt", sequencer="30").decode()
    sns = {"Type": "Notification", "MessageId": "m-1", "Message": inner}
    lambda_sqs = {
        "Records": [{"eventSource": "aws:sqs", "messageId": "1", "body": json.dumps(sns)}]
    }
    # WHEN they are posted, and so is S3's test event
    wrapped = api.post("/api/v1/s3-notification", json.dumps(lambda_sqs).encode(), BEARER)
    test_event = api.post(
        "/api/v1/s3-notification", json.dumps(load_event("s3_test_event")).encode(), BEARER
    )
    # THEN the wrapped change is applied and the test event is acknowledged and ignored
    assert wrapped.status == 200, wrapped.body
    assert api.get("/api/v1/download/wrapped.txt").body == b"wrapped"
    assert test_event.status == 200, test_event.body
    assert test_event.json()["status"] == "ignored"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"{not json", 400, "JSON"),
        (b'{"hello": "world"}', 400, "not an S3 event"),
        (b'{"Records": []}', 400, "Records"),
        (b"[1, 2]", 400, "object"),
        (b"", 400, ""),
    ],
)
def test_a_body_that_is_not_an_event_is_a_400_that_says_why(
    api: Http, body: bytes, status: int, says: str
) -> None:
    reply = api.post("/api/v1/s3-notification", body, BEARER)
    assert reply.status == status, reply.body
    assert says in reply.json()["detail"]


def test_another_buckets_events_are_refused_as_poison(
    api: Http, stack: Stack, clients: Clients
) -> None:
    # GIVEN a notification about a bucket this service does not mirror
    body = s3_event("some-other-bucket", "x.txt", sequencer="40")
    # WHEN it is posted
    reply = api.post("/api/v1/s3-notification", body, BEARER)
    # THEN 422 (do not retry), and nothing was fetched
    assert reply.status == 422
    assert "some-other-bucket" in reply.json()["detail"]
    assert api.get("/api/v1/stats").json()["notifications"]["failed"] == 1


def test_a_body_over_the_limit_is_413(api: Http) -> None:
    reply = api.post("/api/v1/s3-notification", b"x" * (8 * 1024 * 1024 + 1), BEARER)
    assert reply.status == 413


def test_an_event_whose_object_is_gone_is_stale_not_an_error(api: Http, stack: Stack) -> None:
    # GIVEN a create notification for an object that no longer exists (deleted since)
    body = s3_event(stack.bucket, "ghost.txt", sequencer="50")
    # WHEN it is posted
    reply = api.post("/api/v1/s3-notification", body, BEARER)
    # THEN it is accepted (the delete's own event will follow) and no file appears
    assert reply.status == 200, reply.body
    assert api.get("/api/v1/download/ghost.txt").status == 404


def test_a_transient_failure_is_503_with_retry_after(
    service_settings: Settings, stack: Stack
) -> None:
    # GIVEN a service whose S3 endpoint does not answer (nothing listens there)
    dead = service_settings.override(
        endpoint_url=f"http://{LOOPBACK}:{free_port()}", max_attempts=1
    )
    with running(create_app(dead)) as api:
        # WHEN a notification arrives
        body = s3_event(stack.bucket, "k.txt", sequencer="70")
        reply = api.post("/api/v1/s3-notification", body, BEARER)
        stats = api.get("/api/v1/stats").json()
    # THEN 503 and Retry-After: the sender (S3's retry, the forwarder) is to come back
    assert reply.status == 503, reply.body
    assert reply.headers["retry-after"] == "5"
    assert "HeadObject" in reply.json()["detail"] or "k.txt" in reply.json()["detail"]
    assert stats["notifications"] == {"received": 1, "applied": 0, "failed": 1}
