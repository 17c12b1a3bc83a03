"""The HTTP sync service over real HTTP: full syncs, health, lifecycle, ``bucketsync serve``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integration.service_harness import (
    BEARER,
    LOOPBACK,
    Http,
    put,
    running,
    wait_for,
)
from typer.testing import CliRunner

from bucketsync.api import ServiceParts, create_app, service_parts
from bucketsync.aws.clients import Clients
from bucketsync.cli import app as cli_app
from bucketsync.local.emulator import Emulator, free_port, settings_for
from bucketsync.local.stack import Stack
from bucketsync.settings import Settings

# --- full syncs ---------------------------------------------------------------------------------


def test_a_foreground_sync_answers_with_the_seed_fields(
    api: Http, clients: Clients, stack: Stack
) -> None:
    # GIVEN two objects
    put(clients, stack, "one.txt", b"1")
    put(clients, stack, "two.txt", b"22")
    # WHEN a sync runs, then runs again
    first = api.post("/api/v1/sync", headers=BEARER)
    again = api.post("/api/v1/sync", headers=BEARER)
    # THEN the first downloads both and says so in seed 004's shape; the second skips both
    assert first.status == 200, first.body
    result = first.json()
    assert result["status"] == "success"
    assert result["processed_files"] == 2
    assert result["successful_operations"] == 2
    assert result["failed_operations"] == 0
    assert result["downloaded"] == 2
    assert sorted(d["file_key"] for d in result["sync_details"]) == ["one.txt", "two.txt"]
    assert {d["operation"] for d in result["sync_details"]} == {"download"}
    assert "2 files listed: 2 downloaded, 0 skipped, 0 deleted" in result["message"]
    assert again.json()["skipped"] == 2
    assert again.json()["downloaded"] == 0
    assert api.get("/api/v1/download/two.txt").body == b"22"


def test_a_sync_of_a_prefix_touches_only_that_prefix(
    api: Http, clients: Clients, stack: Stack
) -> None:
    put(clients, stack, "keep/a.txt", b"a")
    put(clients, stack, "skip/b.txt", b"b")
    reply = api.post("/api/v1/sync?prefix=keep/", headers=BEARER)
    assert reply.status == 200, reply.body
    assert reply.json()["processed_files"] == 1
    assert api.get("/api/v1/download/keep/a.txt").status == 200
    assert api.get("/api/v1/download/skip/b.txt").status == 404


@pytest.fixture
def held_listing(service_settings: Settings) -> Iterator[tuple[threading.Event, ServiceParts]]:
    """Parts whose S3 client holds every ListObjectsV2 until the event is set."""
    release = threading.Event()
    clients = Clients(service_settings)

    def hold(**_: Any) -> None:
        release.wait(timeout=60)

    clients.s3.meta.events.register("before-call.s3.ListObjectsV2", hold)
    parts = service_parts(service_settings, clients)
    yield release, parts
    release.set()
    parts.engine.close()


def test_a_background_sync_is_202_and_a_second_sync_meanwhile_is_409(
    service_settings: Settings,
    clients: Clients,
    stack: Stack,
    held_listing: tuple[threading.Event, ServiceParts],
) -> None:
    release, parts = held_listing
    put(clients, stack, "bg.txt", b"background")
    with running(create_app(service_settings, parts=parts)) as api:
        # WHEN a background sync starts (its listing held), then two more syncs are asked for
        started = api.post("/api/v1/sync?background=true", headers=BEARER)
        second = api.post("/api/v1/sync?background=true", headers=BEARER)
        foreground = api.post("/api/v1/sync", headers=BEARER)
        # THEN the first is 202 with a job, the others 409
        assert started.status == 202, started.body
        job = started.json()
        assert job["state"] == "running"
        assert started.headers["location"] == f"/api/v1/sync/{job['job_id']}"
        assert (second.status, foreground.status) == (409, 409)
        assert "already running" in second.json()["detail"]
        assert api.get("/api/v1/stats").json()["sync_running"] is True
        # WHEN the listing goes on
        release.set()

        # THEN the job finishes with its summary, and the file is mirrored
        def finished() -> bool:
            state: str = api.get(started.headers["location"]).json()["state"]
            return state != "running"

        wait_for(finished, "the background sync")
        done = api.get(started.headers["location"]).json()
        assert done["state"] == "done", done
        assert done["result"]["downloaded"] == 1
        assert api.get("/api/v1/download/bg.txt").body == b"background"
        stats = api.get("/api/v1/stats").json()
        assert stats["last_sync"]["downloaded"] == 1
        assert stats["last_sync_source"] == "api"
        assert api.get("/api/v1/sync/no-such-job").status == 404
        # AND a new sync may start now
        assert api.post("/api/v1/sync", headers=BEARER).status == 200


def test_a_sync_outside_the_mirrors_prefix_is_422(service_settings: Settings, stack: Stack) -> None:
    settings = service_settings.override(mirror_prefix="only/")
    with running(create_app(settings)) as api:
        reply = api.post("/api/v1/sync?prefix=elsewhere/", headers=BEARER)
    assert reply.status == 422
    assert "outside the mirror's prefix" in reply.json()["detail"]


def test_without_a_bucket_sync_and_s3_listing_are_409(service_settings: Settings) -> None:
    settings = service_settings.model_copy(update={"bucket": None})
    with running(create_app(settings)) as api:
        sync = api.post("/api/v1/sync", headers=BEARER)
        listing = api.get("/api/v1/files?source=s3")
        local = api.get("/api/v1/files?source=local")
    assert (sync.status, listing.status, local.status) == (409, 409, 200)
    assert "no bucket is configured" in sync.json()["detail"]


def test_the_periodic_sync_fills_the_mirror_at_start(
    service_settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN an object in the bucket before the service starts, periodic sync on
    put(clients, stack, "early.txt", b"early")
    settings = service_settings.override(periodic_sync=True)
    with running(create_app(settings)) as api:
        # THEN without any request the mirror gets it, and stats name the periodic run
        def synced() -> bool:
            source: str | None = api.get("/api/v1/stats").json()["last_sync_source"]
            return source == "periodic"

        wait_for(synced, "the first periodic sync")
        assert api.get("/api/v1/download/early.txt").body == b"early"
        # AND a sync asked for meanwhile is not refused once the periodic one is done
        assert api.post("/api/v1/sync", headers=BEARER).status == 200


# --- health, stats, lifecycle ---------------------------------------------------------------


def test_health_is_200_when_s3_answers_and_the_directory_takes_files(api: Http) -> None:
    reply = api.get("/api/v1/health")
    assert reply.status == 200
    health = reply.json()
    assert health["status"] == "healthy"
    assert health["s3_connection"] is True
    assert health["directory_writable"] is True
    assert {  # the seed's fields, and more
        "status",
        "message",
        "s3_connection",
        "download_directory",
        "directory_writable",
        "timestamp",
    } <= set(health)


def test_health_is_503_when_the_mirror_directory_cannot_take_a_file(
    service_settings: Settings,
) -> None:
    root = Path(str(service_settings.mirror_dir))
    with running(create_app(service_settings)) as api:
        # GIVEN the mirror directory replaced by a regular file (chmod would not stop root)
        shutil.move(root, root.with_name("moved"))
        root.write_bytes(b"not a directory")
        reply = api.get("/api/v1/health")
    assert reply.status == 503
    assert reply.json()["directory_writable"] is False
    assert reply.json()["s3_connection"] is True
    assert "not writable" in reply.json()["message"]


def test_health_is_503_when_s3_does_not_answer(service_settings: Settings) -> None:
    # GIVEN a service whose S3 endpoint is a closed port
    dead = service_settings.override(endpoint_url=f"http://{LOOPBACK}:{free_port()}")
    with running(create_app(dead)) as api:
        reply = api.get("/api/v1/health")
    assert reply.status == 503
    assert reply.json()["s3_connection"] is False
    assert reply.json()["directory_writable"] is True
    assert reply.headers.get("retry-after") is None  # a health answer, not a refusal


def test_the_app_closes_what_it_built_and_leaves_what_it_was_given(
    service_settings: Settings,
) -> None:
    built = create_app(service_settings)
    given = service_parts(service_settings.override(mirror_dir=f"{service_settings.mirror_dir}2"))
    borrowed = create_app(service_settings, parts=given)
    with running(built), running(borrowed):
        pass
    with pytest.raises(Exception, match="closed"):
        built.state.service.parts.mirror.store.stats()
    assert given.mirror.store.stats()["files"] == 0
    given.engine.close()


# --- bucketsync serve ---------------------------------------------------------------------------


def test_serve_refuses_a_non_loopback_host_without_credentials(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli_app,
        ["serve", "--host", "0.0.0.0", "--mirror-dir", str(tmp_path / "m")],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 2, result.output
    assert "refusing to listen on 0.0.0.0" in result.output
    assert "BUCKETSYNC_API_TOKEN" in result.output
    assert not (tmp_path / "m").exists()  # refused before anything was built


def test_serve_runs_warns_when_unauthenticated_and_stops_on_sigterm(
    emulator: Emulator, stack: Stack, tmp_path: Path
) -> None:
    # GIVEN `bucketsync serve` without credentials, on loopback, with seed 004's names
    port = free_port()
    env = {
        **os.environ,
        **settings_for(emulator),
        "S3_BUCKET_NAME": stack.bucket,
        "LOCAL_DOWNLOAD_DIR": str(tmp_path / "downloads"),
        "ENABLE_PERIODIC_SYNC": "false",
    }
    command = shutil.which("bucketsync", path=os.path.dirname(sys.executable))
    assert command is not None, f"no bucketsync console script next to {sys.executable}"
    process = subprocess.Popen(
        [command, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        http = Http(port)

        def answers() -> bool:
            assert process.poll() is None, process.communicate()[1]
            try:
                return http.get("/ping").status == 200
            except OSError:
                return False

        wait_for(answers, "bucketsync serve to answer")
        # THEN it serves the seed's routes on the configured directory
        health = http.get("/api/v1/health").json()
        assert health["download_directory"] == str((tmp_path / "downloads").resolve())
        assert http.get("/api/v1/config").json()["settings"]["catalog"] is False
    finally:
        # WHEN it gets SIGTERM
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    # THEN it shuts down gracefully, then exits by the signal as uvicorn does (so a shell or
    # supervisor sees how it ended), having said at start that it is unauthenticated
    assert process.returncode == -signal.SIGTERM, stderr
    assert "Application shutdown complete" in stderr
    assert "unauthenticated" in stderr
    assert "loopback only" in stderr


class _Built(Exception):
    """Raised in place of building the app: the test has the settings, nothing is served."""


@pytest.mark.parametrize(
    ("environment", "catalog"), [({}, False), ({"BUCKETSYNC_CATALOG": "true"}, True)]
)
def test_serve_keeps_no_catalog_unless_bucketsync_catalog_is_set(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    catalog: bool,
) -> None:
    # GIVEN `bucketsync serve` in this process, with or without BUCKETSYNC_CATALOG, and an app
    # factory that only records the settings it is handed
    monkeypatch.delenv("BUCKETSYNC_CATALOG", raising=False)
    handed: list[Settings] = []

    def record(settings: Settings, **_: Any) -> None:
        handed.append(settings)
        raise _Built

    monkeypatch.setattr("bucketsync.api.create_app", record)
    # WHEN it starts
    result = CliRunner().invoke(
        cli_app,
        ["serve", "--port", "0", "--mirror-dir", str(tmp_path / "m")],
        env={"COLUMNS": "300", **environment},
    )
    # THEN the catalog is off by default, and what the variable says when it is set
    assert isinstance(result.exception, _Built), result.output
    assert [settings.catalog for settings in handed] == [catalog]


@pytest.mark.parametrize("variable", ["BUCKETSYNC_HMAC_SECRET", "BUCKETSYNC_API_TOKEN"])
@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_secret_is_no_secret_and_lifts_no_guard(
    tmp_path: Path, variable: str, empty: str
) -> None:
    # GIVEN a secret or token set to nothing (issue 14, item 3: the service started on
    # 0.0.0.0, said auth was required, and took a request signed with the empty key)
    result = CliRunner().invoke(
        cli_app,
        ["serve", "--host", "0.0.0.0", "--mirror-dir", str(tmp_path / "m")],
        env={"COLUMNS": "300", variable: empty},
    )
    # THEN it counts as unset: the loopback guard refuses the exposed address
    assert result.exit_code == 2, result.output
    assert "refusing to listen on 0.0.0.0" in result.output
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("variable", ["BUCKETSYNC_HMAC_SECRET", "BUCKETSYNC_API_TOKEN"])
def test_a_secret_too_short_to_resist_guessing_is_refused_at_start(
    tmp_path: Path, variable: str
) -> None:
    result = CliRunner().invoke(
        cli_app,
        ["serve", "--host", "0.0.0.0", "--mirror-dir", str(tmp_path / "m")],
        env={"COLUMNS": "300", variable: "hunter2"},
    )
    assert result.exit_code != 0
    message = str(result.exception) + result.output
    assert f"({variable})" in message and "at least 16" in message
    assert "hunter2" not in message  # the refused value is not echoed
    assert not (tmp_path / "m").exists()
