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
from bucketsync.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

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
    assert info["links"]["health"]["href"] == "/api/v1/health"  # relative: no Host echoed
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
        "wrong secret": api.post(route, body, signed(body, route, "not-the-secret")),
        "stale signature": api.post(route, body, signed(body, route, now=stale)),
        "other body": api.post(route, body, signed(body + b" ", route)),
        "version 1": api.post(route, body, {**signed(body, route), SIGNATURE_HEADER: "v1=00"}),
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
        "version 1": 403,
        "timestamp only": 403,
    }
    assert refused["none"].headers["www-authenticate"] == "Bearer"
    assert "more than" in refused["stale signature"].json()["detail"]
    assert "does not match" in refused["other body"].json()["detail"]
    assert "v1 is not accepted; sign with v2" in refused["version 1"].json()["detail"]
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
    route = "/api/v1/s3-notification"
    by_signature = api.post(route, body_b, signed(body_b, route))
    # AND a sync is asked for with a signature (of its empty body, its path and its query)
    sync = api.post(
        "/api/v1/sync?background=false", b"", signed(b"", "/api/v1/sync?background=false")
    )
    # THEN all are carried out
    assert (by_token.status, by_signature.status, sync.status) == (200, 200, 200), sync.body
    assert api.get("/api/v1/download/a.txt").body == b"a"
    assert api.get("/api/v1/download/b.txt").body == b"b"


def test_a_signed_sync_replayed_with_another_prefix_is_refused(
    api: Http, clients: Clients, stack: Stack
) -> None:
    # GIVEN objects under two prefixes, and a sync of prefix a/ signed with the secret
    put(clients, stack, "a/one.txt", b"1")
    put(clients, stack, "b/two.txt", b"2")
    headers = signed(b"", "/api/v1/sync?prefix=a/")
    # WHEN that request is replayed (within the window) with prefix b/, with a parameter
    # added or taken away, or against the other POST route
    replays = {
        "other prefix": api.post("/api/v1/sync?prefix=b/", b"", headers),
        "parameter added": api.post("/api/v1/sync?prefix=a/&background=true", b"", headers),
        "no query": api.post("/api/v1/sync", b"", headers),
        "other route": api.post("/api/v1/s3-notification?prefix=a/", b"", headers),
    }
    # THEN every replay is refused, nothing synced
    assert {name: reply.status for name, reply in replays.items()} == dict.fromkeys(replays, 403)
    assert "does not match" in replays["other prefix"].json()["detail"]
    assert api.get("/api/v1/files?source=local").json()["files"] == []
    # AND the request as signed (its query encoded another way: same parameters) is carried out
    reply = api.post("/api/v1/sync?prefix=a%2F", b"", headers)
    assert reply.status == 200, reply.body
    files = api.get("/api/v1/files?source=local").json()["files"]
    assert [entry["key"] for entry in files] == ["a/one.txt"]


def test_a_signed_notification_replayed_against_sync_is_refused(
    api: Http, clients: Clients, stack: Stack
) -> None:
    # GIVEN a notification signed for /api/v1/s3-notification
    put(clients, stack, "n.txt", b"n")
    body = s3_event(stack.bucket, "n.txt", sequencer="0C")
    headers = signed(body, "/api/v1/s3-notification")
    # WHEN the signed request is replayed against /api/v1/sync, with its body or without
    with_body = api.post("/api/v1/sync", body, headers)
    without = api.post("/api/v1/sync", b"", headers)
    # THEN both are refused and nothing is synced
    assert (with_body.status, without.status) == (403, 403)
    assert "does not match" in with_body.json()["detail"]
    assert api.get("/api/v1/files?source=local").json()["files"] == []
    # AND the notification itself, where it was signed for, is applied
    reply = api.post("/api/v1/s3-notification", body, headers)
    assert reply.status == 200, reply.body
    assert api.get("/api/v1/download/n.txt").body == b"n"


def test_behind_a_proxy_that_strips_a_prefix_the_full_path_sent_is_what_is_checked(
    api: Http, service_settings: Settings, clients: Clients, stack: Stack
) -> None:
    put(clients, stack, "a/one.txt", b"1")
    # GIVEN a client that signs the path it sends to a proxy, /bucketsync/api/v1/sync
    sent = signed(b"", "/bucketsync/api/v1/sync?prefix=a/")
    service_path = signed(b"", "/api/v1/sync?prefix=a/")
    # WHEN the proxy strips /bucketsync and the service is told so (its ASGI root_path)
    with running(create_app(service_settings), root_path="/bucketsync") as proxied:
        told = proxied.post("/api/v1/sync?prefix=a/", b"", sent)
        signed_without_prefix = proxied.post("/api/v1/sync?prefix=a/", b"", service_path)
    # AND when the service is not told (the api fixture has no root_path)
    not_told = api.post("/api/v1/sync?prefix=a/", b"", sent)
    # THEN the signature of the full path passes only where the service knows the prefix, and
    # one of the stripped path never does there: what the client sent is what is checked
    assert told.status == 200, told.body
    assert (signed_without_prefix.status, not_told.status) == (403, 403)


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
    assert stats["notifications"] == {"received": 2, "applied": 2, "ignored": 0, "failed": 0}
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
    assert stats["notifications"] == {"received": 1, "applied": 0, "ignored": 0, "failed": 1}
