"""What a person using the service expects of it, over real HTTP against the emulator: a failed
sync is an HTTP error, messages that count what was done, a health check that says which
S3 problem it is, stats that do not count a test event as applied, links that never echo the
Host header, and ``bucketsync serve`` hearing the queue on its own."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.events import load_event
from tests.integration.service_harness import BEARER, LOOPBACK, Http, put, running, wait_for

from bucketsync.api import create_app
from bucketsync.aws.clients import Clients
from bucketsync.local.emulator import Emulator, free_port, settings_for
from bucketsync.local.stack import Stack
from bucketsync.settings import Settings

# --- a sync that failed is an HTTP error; messages count each kind of work ----------------------


def test_a_no_op_sync_says_nothing_was_downloaded(
    api: Http, clients: Clients, stack: Stack
) -> None:
    # GIVEN two objects already mirrored by a first sync
    put(clients, stack, "one.txt", b"1")
    put(clients, stack, "two.txt", b"22")
    assert api.post("/api/v1/sync", headers=BEARER).status == 200
    # WHEN the same sync runs again
    again = api.post("/api/v1/sync", headers=BEARER)
    # THEN its message says nothing was downloaded, rather than "Synced 2 of 2 files"
    assert again.status == 200, again.body
    message = again.json()["message"]
    assert "0 downloaded" in message
    assert "2 skipped" in message
    assert "0 deleted" in message
    assert "Synced 2 of 2" not in message


def test_a_sync_that_downloads_and_deletes_counts_each(
    api: Http, clients: Clients, stack: Stack
) -> None:
    put(clients, stack, "stays.txt", b"s")
    put(clients, stack, "goes.txt", b"g")
    assert api.post("/api/v1/sync", headers=BEARER).status == 200
    clients.s3.delete_object(Bucket=stack.bucket, Key="goes.txt")
    put(clients, stack, "new.txt", b"n")
    reply = api.post("/api/v1/sync", headers=BEARER)
    assert reply.status == 200, reply.body
    message = reply.json()["message"]
    assert "1 downloaded" in message
    assert "1 skipped" in message
    assert "1 deleted" in message


def test_a_sync_that_failed_is_a_503_problem_not_a_200(service_settings: Settings) -> None:
    # GIVEN a service whose S3 endpoint does not answer
    dead = service_settings.override(
        endpoint_url=f"http://{LOOPBACK}:{free_port()}", max_attempts=1
    )
    with running(create_app(dead)) as api:
        # WHEN a sync is asked for in the foreground, and in the background
        reply = api.post("/api/v1/sync", headers=BEARER)
        started = api.post("/api/v1/sync?background=true", headers=BEARER)
        location = started.headers["location"]

        def finished() -> bool:
            state: str = api.get(location).json()["state"]
            return state != "running"

        wait_for(finished, "the background sync")
        job = api.get(location).json()
    # THEN the foreground answer is a 503 problem (retry later) that says why
    assert reply.status == 503, reply.body
    assert reply.headers["retry-after"] == "5"
    problem = reply.json()
    assert "not reachable" in problem["detail"]
    assert problem["result"]["status"] == "failed"
    # AND the background job says it failed, with the same reason
    assert job["state"] == "failed", job
    assert "not reachable" in job["error"]
    assert job["result"]["status"] == "failed"


# --- health says which S3 problem it is; stats do not count a test event as applied --------------


class _Forbidding(BaseHTTPRequestHandler):
    """An S3 endpoint that refuses everything, as S3 does a caller without permission."""

    def _refuse(self) -> None:
        body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET = do_PUT = do_POST = _refuse

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def forbidding_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer((LOOPBACK, 0), _Forbidding)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_health_tells_unreachable_from_no_such_bucket_from_access_denied(
    service_settings: Settings,
) -> None:
    unreachable = service_settings.override(endpoint_url=f"http://{LOOPBACK}:{free_port()}")
    missing = service_settings.override(bucket="bucketsync-no-such-bucket")
    with forbidding_endpoint() as endpoint:
        denied = service_settings.override(endpoint_url=endpoint)
        answers = {}
        for name, settings in (
            ("unreachable", unreachable),
            ("no_such_bucket", missing),
            ("access_denied", denied),
        ):
            with running(create_app(settings)) as api:
                answers[name] = api.get("/api/v1/health")
    assert {name: reply.status for name, reply in answers.items()} == dict.fromkeys(answers, 503)
    assert {name: reply.json()["s3_status"] for name, reply in answers.items()} == {
        "unreachable": "unreachable",
        "no_such_bucket": "no_such_bucket",
        "access_denied": "access_denied",
    }
    assert "not reachable" in answers["unreachable"].json()["message"]
    assert "bucketsync-no-such-bucket does not exist" in answers["no_such_bucket"].json()["message"]
    assert "access denied" in answers["access_denied"].json()["message"]
    for reply in answers.values():
        assert reply.json()["s3_connection"] is False


def test_a_test_event_is_counted_as_ignored_not_applied(api: Http) -> None:
    body = json.dumps(load_event("s3_test_event")).encode()
    reply = api.post("/api/v1/s3-notification", body, BEARER)
    assert reply.status == 200, reply.body
    assert reply.json()["status"] == "ignored"
    counts = api.get("/api/v1/stats").json()["notifications"]
    assert counts == {"received": 1, "applied": 0, "ignored": 1, "failed": 0}


# --- the root's links are relative: a Host header never ends up in them --------------------------


@pytest.mark.parametrize("host", ["attacker.example", "127.0.0.2:1"])
def test_the_roots_links_never_echo_the_host_header(api: Http, host: str) -> None:
    reply = api.get("/", {"Host": host, "Accept": "application/json"})
    # (A guard may refuse a foreign Host outright; if it answers, its links must be ours.)
    if reply.status == 200:
        assert host.encode() not in reply.body
    plain = api.get("/")
    assert plain.status == 200
    links = plain.json()["links"]
    assert links["health"]["href"] == "/api/v1/health"
    assert all(link["href"].startswith("/") for link in links.values()), links


@pytest.mark.parametrize("root_path", ["/bucketsync"])
def test_behind_a_proxy_prefix_the_links_carry_it(
    service_settings: Settings, root_path: str
) -> None:
    with running(create_app(service_settings), root_path=root_path) as api:
        links = api.get("/").json()["links"]
    assert links["health"]["href"] == f"{root_path}/api/v1/health"


# --- /docs works with no internet ----------------------------------------------------------------


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_need_no_internet_every_asset_comes_from_the_service(api: Http, page: str) -> None:
    reply = api.get(page)
    assert reply.status == 200
    html = reply.body.decode()
    # Every file the page loads: its tags' src/href, ReDoc's spec-url, Swagger UI's url
    assets = re.findall(r"""(?:src|href|spec-url)=["']([^"']+)""", html)
    assets += re.findall(r"""\burl: ?["']([^"']+)""", html)
    assert len(assets) >= 2, html
    for asset in assets:
        # no CDN (the default Swagger UI page loads it from cdn.jsdelivr.net): this service
        assert asset.startswith("/") and not asset.startswith("//"), asset
        assert api.get(asset).status == 200, asset


# --- bucketsync serve hears the queue on its own -------------------------------------------------


def test_bucketsync_serve_alone_mirrors_what_arrives_on_its_queue(
    emulator: Emulator, clients: Clients, stack: Stack, tmp_path: Path
) -> None:
    # GIVEN `bucketsync serve` in its own process with BUCKETSYNC_QUEUE_URL set, and nothing
    # else: no forwarder POSTs to it, no `bucketsync worker` runs beside it
    port = free_port()
    mirror = tmp_path / "mirror"
    env = {
        **os.environ,
        **settings_for(emulator),
        "BUCKETSYNC_QUEUE_URL": stack.queue_url,
        "BUCKETSYNC_BUCKET": stack.bucket,
        "BUCKETSYNC_PERIODIC_SYNC": "false",
        "BUCKETSYNC_WAIT_TIME_SECONDS": "1",
    }
    command = shutil.which("bucketsync", path=os.path.dirname(sys.executable))
    assert command is not None
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            [command, "serve", "--port", str(port), "--mirror-dir", str(mirror)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        api = Http(port)
        wait_for(lambda: _pings(api), "the service to start")
        # WHEN an object is put into the bucket: S3 notifies the queue, and only the queue
        put(clients, stack, "queued/report.csv", b"a,b\n1,2\n")
        # THEN the service mirrors it, and its stats show the queue it polls
        mirrored = mirror / "queued" / "report.csv"
        wait_for(mirrored.is_file, "the object to reach the mirror through the queue")
        assert mirrored.read_bytes() == b"a,b\n1,2\n"
        queue = api.get("/api/v1/stats").json()["queue"]
        assert queue["queue_url"] == stack.queue_url
        assert queue["running"] is True
        assert queue["succeeded"] >= 1
    except AssertionError:
        print(log_path.read_text(errors="replace"))
        raise
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _pings(api: Http) -> bool:
    try:
        return api.get("/ping", anonymous=True).status == 200
    except OSError:
        return False


def test_local_up_serve_shows_what_its_worker_applied(
    service_settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN local up's service, over the engine its worker applies with (`local up --serve`)
    from bucketsync.cli.local import _service  # noqa: PLC0415 - the wiring under test
    from bucketsync.compose import build_parts  # noqa: PLC0415
    from bucketsync.runtimes.build import build_worker  # noqa: PLC0415

    settings = service_settings.override(api_port=0)
    parts = build_parts(settings, clients)
    engine = parts.engine
    assert parts.mirror is not None
    worker = build_worker(settings, clients, queue_url=stack.queue_url, engine=engine)
    try:
        with _service(settings, clients, engine, parts.mirror) as port:
            # WHEN the worker applies an upload from the queue
            put(clients, stack, "worker/seen.txt", b"by the worker")
            assert worker.drain().failed == 0
            # THEN the status feed lists it
            feed = Http(port).get("/api/v1/activity").json()
    finally:
        engine.close()
    assert [change["key"] for change in feed["changes"]] == ["worker/seen.txt"]
