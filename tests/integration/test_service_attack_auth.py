"""What an attack on ``bucketsync serve`` found at its front door (issue 14, items 4 to 6), each
replayed against a live service on loopback: bodies held before authentication, reads open
while credentials are set, cross-site writes and DNS rebinding."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.events import load_event
from tests.integration.service_harness import (
    LOOPBACK,
    SECRET,
    TOKEN,
    Http,
    running,
    s3_event,
    service_settings_for,
    signed,
    wait_for,
)

from bucketsync.api import create_app
from bucketsync.aws.clients import Clients
from bucketsync.local.emulator import Emulator, settings_for
from bucketsync.local.stack import Stack
from bucketsync.settings import Settings
from bucketsync.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

NOTIFY = "/api/v1/s3-notification"
TEST_EVENT = json.dumps(load_event("s3_test_event")).encode()  # accepted, changes nothing
ALMOST_8_MIB = 8 * 1024 * 1024 - 1


@pytest.fixture
def api(settings: Settings, stack: Stack, tmp_path: Path) -> Iterator[Http]:
    with running(create_app(service_settings_for(settings, stack, tmp_path))) as http:
        yield http


def raw_head(port: int, lines: list[str]) -> socket.socket:
    """A connection that has sent a request's head and none of its body."""
    sock = socket.create_connection((LOOPBACK, port), timeout=5)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def status_of(sock: socket.socket) -> int:
    first = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(first.split()[1])


def post_head(port: int, extra: list[str]) -> list[str]:
    return [
        f"POST {NOTIFY} HTTP/1.1",
        f"Host: {LOOPBACK}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {ALMOST_8_MIB}",
        *extra,
    ]


# --- item 4: the body is buffered before authentication ----------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [
        [],
        ["Authorization: Bearer not-the-token-at-all"],
        [f"{TIMESTAMP_HEADER}: 1000000000", f"{SIGNATURE_HEADER}: v2=00"],  # stale
        [f"{SIGNATURE_HEADER}: v2=00"],  # no timestamp
    ],
    ids=["none", "wrong token", "stale signature", "no timestamp"],
)
def test_a_request_the_headers_condemn_is_refused_before_its_body_is_read(
    api: Http, credentials: list[str]
) -> None:
    # GIVEN a POST announcing an 8 MiB body, of which not one byte is sent
    with raw_head(api.port, post_head(api.port, credentials)) as sock:
        # THEN the answer comes at once (before, the service waited for the whole body)
        assert status_of(sock) in (401, 403)


def test_unverified_bodies_share_one_bounded_budget(api: Http) -> None:
    # GIVEN connections each announcing an almost-8 MiB signed body (fresh timestamp, a
    # signature that cannot be checked until the body is in) and sending it slowly
    fresh = [f"{TIMESTAMP_HEADER}: {int(time.time())}", f"{SIGNATURE_HEADER}: v2=" + "0" * 64]
    held = [raw_head(api.port, post_head(api.port, fresh)) for _ in range(4)]
    try:
        for sock in held:
            sock.sendall(b"{" + b" " * 1024)  # started, far from done
        time.sleep(0.3)
        # WHEN one more arrives while four are being held
        with raw_head(api.port, post_head(api.port, fresh)) as extra:
            # THEN it is turned away at once, to come back later
            reply = extra.recv(4096)
            assert reply.split(b"\r\n", 1)[0].split()[1] == b"503"
            assert b"retry-after" in reply.lower()
        # AND /ping still answers
        assert api.get("/ping", anonymous=True).status == 200
    finally:
        for sock in held:
            sock.close()
    # AND once they are gone the budget is whole again: a valid signed POST goes through
    wait_for(
        lambda: api.post(NOTIFY, TEST_EVENT, signed(TEST_EVENT, NOTIFY)).status == 200,
        "the budget to be released",
        timeout=10,
    )


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc for RSS")
def test_many_unauthenticated_uploads_cannot_grow_the_server_s_memory(
    emulator: Emulator, stack: Stack, tmp_path: Path
) -> None:
    # GIVEN `bucketsync serve` with a secret, in its own process
    port = free_port()
    env = {
        **os.environ,
        **settings_for(emulator),
        "BUCKETSYNC_HMAC_SECRET": SECRET,
        "BUCKETSYNC_BUCKET": stack.bucket,
        "BUCKETSYNC_PERIODIC_SYNC": "false",
        "BUCKETSYNC_CATALOG": "false",
    }
    command = shutil.which("bucketsync", path=os.path.dirname(sys.executable))
    assert command is not None
    server = subprocess.Popen(
        [command, "serve", "--port", str(port), "--mirror-dir", str(tmp_path / "m")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        http = Http(port)
        wait_for(lambda: _answers(http), "the service to start", timeout=30)
        before = rss_kib(server.pid)
        # WHEN 24 clients each send a whole almost-8 MiB body with an unverifiable signature
        # (the attack used 150: RSS went from 271 MB to 1.57 GB)
        fresh = [f"{TIMESTAMP_HEADER}: {int(time.time())}", f"{SIGNATURE_HEADER}: v2=" + "0" * 64]
        chunk = b" " * (1024 * 1024)
        peak = before

        def upload() -> None:
            try:
                with raw_head(port, post_head(port, fresh)) as sock:
                    for _ in range(8):
                        sock.sendall(chunk[: ALMOST_8_MIB // 8])
                    sock.recv(4096)
            except OSError:
                pass  # refused and closed mid-body: what the budget does

        threads = [threading.Thread(target=upload) for _ in range(24)]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            peak = max(peak, rss_kib(server.pid))
            time.sleep(0.05)
        # THEN the server never held much more than its budget (32 MiB) of them
        grown_mib = (peak - before) / 1024
        print(f"RSS before {before / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB")
        assert grown_mib < 96, f"RSS grew by {grown_mib:.0f} MiB"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)


def _answers(http: Http) -> bool:
    try:
        return http.get("/ping", anonymous=True).status == 200
    except OSError:
        return False


# --- item 5: reads are open when credentials are set ---------------------------------------


READS = [
    "/",
    "/api/v1/files?source=s3",
    "/api/v1/files?source=local",
    "/api/v1/stats",
    "/api/v1/config",
    "/api/v1/download/a.txt",
    "/api/v1/sync/nope",
    "/openapi.json",
    "/docs",
]


@pytest.mark.parametrize("path", READS)
def test_with_credentials_set_every_read_needs_them(api: Http, path: str) -> None:
    assert api.get(path, anonymous=True).status == 401
    assert api.get(path, {"Authorization": "Bearer wrong-token-of-16ch"}).status == 403
    # AND the token, or a signature of the GET, lets it through
    assert api.get(path).status in (200, 404)
    assert api.get(path, signed(b"", path, method="GET")).status in (200, 404)


def test_the_liveness_and_health_probes_stay_open(api: Http) -> None:
    assert api.get("/ping", anonymous=True).status == 200
    assert api.get("/api/v1/health", anonymous=True).status in (200, 503)


def test_behind_a_proxy_prefix_the_probes_stay_open_and_the_rest_does_not(
    settings: Settings, stack: Stack, tmp_path: Path
) -> None:
    # GIVEN a proxy that strips /bucketsync, and the server told so (uvicorn puts the root
    # path back in front of the ASGI path)
    app = create_app(service_settings_for(settings, stack, tmp_path))
    with running(app, root_path="/bucketsync") as proxied:
        for probe in ("/ping", "/api/v1/health"):
            assert proxied.get(probe, anonymous=True).status == 200, probe
        assert proxied.get("/api/v1/stats", anonymous=True).status == 401


def test_an_explicit_setting_opens_reads_and_only_reads(
    settings: Settings, stack: Stack, tmp_path: Path
) -> None:
    opened = service_settings_for(settings, stack, tmp_path).override(open_reads=True)
    with running(create_app(opened)) as api:
        assert api.get("/api/v1/files?source=s3", anonymous=True).status == 200
        assert api.post("/api/v1/sync").status == 401


# --- item 6: cross-site requests and DNS rebinding ------------------------------------------


@pytest.fixture
def open_api(settings: Settings, stack: Stack, tmp_path: Path) -> Iterator[Http]:
    """The service as a developer runs it: no credentials, so loopback only."""
    bare = service_settings_for(settings, stack, tmp_path).override()
    bare = Settings.model_validate({**bare.model_dump(), "api_token": None, "hmac_secret": None})
    with running(create_app(bare)) as http:
        yield http


def test_a_cross_site_text_plain_post_is_refused(open_api: Http, stack: Stack) -> None:
    # GIVEN the attack's forged delete: a cross-origin text/plain POST (no CORS preflight)
    # carrying the highest possible sequencer
    forged = s3_event(stack.bucket, "a.txt", sequencer="F" * 32, removed=True)
    reply = open_api.post(
        NOTIFY,
        forged,
        {"Content-Type": "text/plain", "Origin": "http://attacker.example"},
    )
    assert reply.status == 403
    # AND without Origin (a non-browser client), a body must still be JSON
    assert open_api.post(NOTIFY, forged, {"Content-Type": "text/plain"}).status == 415
    # AND the same-origin JSON POST is served
    same = {"Content-Type": "application/json", "Origin": open_api.base_url}
    assert open_api.post(NOTIFY, TEST_EVENT, same).status == 200


@pytest.mark.parametrize("host", ["rebind.attacker.example", "rebind.attacker.example:8888"])
def test_a_request_naming_another_host_is_refused(open_api: Http, host: str) -> None:
    reply = open_api.get("/api/v1/stats", {"Host": host})
    assert reply.status == 421
    assert b"attacker" not in reply.body


def test_allowed_hosts_admit_a_proxy_s_name(
    settings: Settings, stack: Stack, tmp_path: Path
) -> None:
    named = service_settings_for(settings, stack, tmp_path).override(
        allowed_hosts=["sync.example.com"]
    )
    with running(create_app(named)) as api:
        assert api.get("/ping", {"Host": "sync.example.com"}).status == 200
        assert api.get("/ping", {"Host": "other.example.com"}).status == 421
        assert api.get("/ping", {"Host": f"localhost:{api.port}"}).status == 200


def test_ping_answers_json_and_the_refusals_are_json(open_api: Http) -> None:
    reply = open_api.get("/ping", {"Host": "evil.example"})
    assert reply.headers["content-type"] == "application/json"
    assert json.loads(reply.body)["detail"]
    assert TOKEN not in reply.body.decode()


def test_a_forged_tombstone_is_repaired_by_the_next_full_sync(
    open_api: Http, clients: Clients, stack: Stack
) -> None:
    # GIVEN a mirrored file, and a delete the attack forged with the highest sequencer, sent by
    # someone the service trusts (on loopback without credentials: any local process)
    clients.s3.put_object(Bucket=stack.bucket, Key="a.txt", Body=b"alive")
    real = s3_event(stack.bucket, "a.txt", sequencer="0055")
    assert open_api.post(NOTIFY, real).status == 200
    forged = s3_event(stack.bucket, "a.txt", sequencer="F" * 32, removed=True)
    assert open_api.post(NOTIFY, forged).status == 200
    assert open_api.get("/api/v1/download/a.txt").status == 404
    # AND a genuine later event cannot stand over it (S3's sequencers order S-over-S)
    clients.s3.put_object(Bucket=stack.bucket, Key="a.txt", Body=b"alive again")
    later = s3_event(stack.bucket, "a.txt", sequencer="0066")
    assert open_api.post(NOTIFY, later).status == 200
    assert open_api.get("/api/v1/download/a.txt").status == 404
    # WHEN the next full sync runs (periodic, or POST /api/v1/sync, or bucketsync reconcile)
    assert open_api.post("/api/v1/sync").status == 200
    # THEN the file is back: a repair replaces what was written before its listing began
    reply = open_api.get("/api/v1/download/a.txt")
    assert (reply.status, reply.body) == (200, b"alive again")
