"""The listing and download routes under attack, over real HTTP against the emulator.

A listing request costs a bounded number of ListObjectsV2 calls whatever its cursor says, and
slow listings cannot starve the other routes. A download opens the mirror's own file once,
following no link, so swapping in a symbolic link, a hard link or a FIFO serves nothing from
outside the mirror. Downloads carry the object's ETag and Last-Modified, and answer HEAD and
If-None-Match.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from tests.integration.service_harness import (
    BEARER,
    Http,
    Reply,
    download_path,
    mirror_one,
    put,
    running,
)

from bucketsync.api import create_app
from bucketsync.aws.clients import Clients
from bucketsync.aws.request_counter import RequestCounter
from bucketsync.local.stack import Stack
from bucketsync.settings import Settings

LIST = "s3.ListObjectsV2"
OUTSIDE = b"OUTSIDE-THE-MIRROR"


@pytest.fixture
def counted(service_settings: Settings) -> Iterator[tuple[Http, RequestCounter]]:
    """The service, its S3 requests counted."""
    counter = RequestCounter()
    with running(create_app(service_settings, clients=Clients(service_settings, counter))) as api:
        yield api, counter


def fill(clients: Clients, stack: Stack, keys: list[str]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: put(clients, stack, key, key.encode()), keys))


def root_of(settings: Settings) -> Path:
    return Path(str(settings.mirror_dir))


# --- 1. listings: bounded cost ---------------------------------------------------------------


@pytest.mark.parametrize("cursor", ["%EF%BF%BF", "%01", "k%2F0000%01", "k%2F0150"])
def test_a_listing_costs_at_most_one_list_call_whatever_the_cursor(
    counted: tuple[Http, RequestCounter], clients: Clients, stack: Stack, cursor: str
) -> None:
    # GIVEN a bucket of 300 objects
    api, counter = counted
    fill(clients, stack, [f"k/{index:04d}" for index in range(300)])
    counter.reset()
    # WHEN one page of one key is asked for after a cursor XML cannot carry (or a bare key)
    reply = api.get(f"/api/v1/files?source=s3&limit=1&cursor={cursor}")
    # THEN the service made at most one ListObjectsV2 call, and refused the cursor it never made
    calls = counter.snapshot().get(LIST, 0)
    assert calls <= 1, f"{calls} ListObjectsV2 calls for one request"
    assert reply.status == 400, reply.body
    detail = reply.json()["detail"]
    assert "cursor" in detail
    assert "\n" not in detail


def test_following_next_cursor_costs_one_list_call_a_page(
    counted: tuple[Http, RequestCounter], clients: Clients, stack: Stack
) -> None:
    api, counter = counted
    keys = [f"k/{index:04d}" for index in range(300)]
    fill(clients, stack, [*keys, "other/x"])
    counter.reset()
    # WHEN the listing under k/ is followed 100 keys a page
    listed, pages, cursor = [], 0, None
    while True:
        query = "source=s3&prefix=k/&limit=100" + (f"&cursor={cursor}" if cursor else "")
        reply = api.get(f"/api/v1/files?{query}")
        assert reply.status == 200, reply.body
        pages += 1
        listed += [item["key"] for item in reply.json()["files"]]
        cursor = reply.json()["next_cursor"]
        if cursor is None:
            break
        assert cursor.isascii() and quote(cursor, safe="") == cursor  # opaque, URL-safe
    # THEN every key came once, in order, and each page was one ListObjectsV2 call
    assert listed == keys
    assert counter.snapshot().get(LIST, 0) == pages == 3


def test_a_cursor_of_another_prefix_or_source_or_tampered_with_is_400(
    counted: tuple[Http, RequestCounter], clients: Clients, stack: Stack
) -> None:
    api, counter = counted
    fill(clients, stack, ["a/1", "a/2", "a/3"])
    assert api.post("/api/v1/sync", headers=BEARER).status == 200
    s3_cursor = api.get("/api/v1/files?source=s3&prefix=a/&limit=1").json()["next_cursor"]
    local_cursor = api.get("/api/v1/files?source=local&prefix=a/&limit=1").json()["next_cursor"]
    assert s3_cursor and local_cursor
    tampered = s3_cursor[:-3] + ("AAA" if not s3_cursor.endswith("AAA") else "BBB")
    counter.reset()
    # WHEN those cursors come back with another prefix, another source, altered, or too long
    replies = {
        "other prefix": api.get(f"/api/v1/files?source=s3&prefix=b/&limit=1&cursor={s3_cursor}"),
        "other source": api.get(f"/api/v1/files?source=local&prefix=a/&cursor={s3_cursor}"),
        "local as s3": api.get(f"/api/v1/files?source=s3&prefix=a/&cursor={local_cursor}"),
        "tampered": api.get(f"/api/v1/files?source=s3&prefix=a/&cursor={tampered}"),
        "garbage": api.get("/api/v1/files?source=s3&prefix=a/&cursor=%25%25"),
        "too long": api.get(f"/api/v1/files?source=local&cursor={'A' * 14000}"),
    }
    # THEN each is 400 with a one-line reason, and S3 was never asked
    assert {name: reply.status for name, reply in replies.items()} == dict.fromkeys(replies, 400)
    assert all("\n" not in reply.json()["detail"] for reply in replies.values())
    assert "prefix" in replies["other prefix"].json()["detail"]
    assert "source" in replies["other source"].json()["detail"]
    assert counter.snapshot().get(LIST, 0) == 0


ODD_KEYS = ["o/a", "o/b\x1ab", "o/b\x1ab\x01z", "o/c", "o/é", "o/\ufffd", "o/\uffff", "o/😀"]


@pytest.mark.parametrize("source", ["s3", "local"])
def test_paging_through_odd_keys_visits_each_once_in_order(
    api: Http, clients: Clients, stack: Stack, source: str
) -> None:
    fill(clients, stack, ODD_KEYS)
    try:
        assert api.post("/api/v1/sync", headers=BEARER).status == 200
        listed, cursor = [], None
        for _ in range(20):
            query = f"source={source}&prefix=o/&limit=1"
            if cursor is not None:
                query += f"&cursor={quote(cursor, safe='')}"
            page = api.get(f"/api/v1/files?{query}").json()
            listed += [item["key"] for item in page["files"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    finally:
        # moto cannot list such keys' versions, which the stack's teardown does
        for key in ODD_KEYS:
            clients.s3.delete_object(Bucket=stack.bucket, Key=key)
    assert listed == sorted(ODD_KEYS)


def test_slow_listings_do_not_starve_the_other_routes(
    service_settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN a service whose every ListObjectsV2 takes 3 s
    fill(clients, stack, ["slow/a", "slow/b"])
    slow_clients = Clients(service_settings)

    def slow(**_: Any) -> None:
        time.sleep(3)

    slow_clients.s3.meta.events.register("before-send.s3.ListObjectsV2", slow)
    # WHEN 45 listings are asked for at once, and /ping meanwhile
    with (
        running(create_app(service_settings, clients=slow_clients)) as api,
        ThreadPoolExecutor(45) as pool,
    ):
        listings = [pool.submit(api.get, "/api/v1/files?source=s3&limit=1") for _ in range(45)]
        time.sleep(0.5)
        started = time.monotonic()
        pong = api.get("/ping")
        took = time.monotonic() - started
        replies = [future.result() for future in listings]
    # THEN /ping answers at once; a few listings are served and the rest refused at once, 503
    # with Retry-After
    assert pong.status == 200
    assert took < 1.0, f"/ping took {took:.2f} s"
    statuses = Counter(reply.status for reply in replies)
    assert set(statuses) <= {200, 503}, statuses
    assert 1 <= statuses[200] <= 8, statuses
    refused = [reply for reply in replies if reply.status == 503]
    assert refused
    assert all(reply.headers.get("retry-after") for reply in refused)


# --- 2. downloads: the mirror's own file, opened once -------------------------------------------


def test_swapping_the_file_for_a_link_outside_never_serves_the_outside_file(
    api: Http, clients: Clients, stack: Stack, service_settings: Settings
) -> None:
    # GIVEN a mirrored file, a file outside the mirror, and a thread that keeps swapping the
    # mirrored file for a symbolic link to the outside one and back (the same inode each time)
    root = root_of(service_settings)
    mirror_one(api, clients, stack, "hello.txt", b"hello, mirror")
    outside = root.parent / "outside.txt"
    outside.write_bytes(OUTSIDE)
    target = root / "hello.txt"
    keep = root.parent / "hello.keep"
    os.link(target, keep)
    stop = threading.Event()

    def download(path: str) -> Reply | None:
        try:
            return api.get(path)
        except (http.client.HTTPException, OSError):  # an answer cut short
            return None

    def swap() -> None:
        while not stop.is_set():
            os.symlink(outside, root / "link.tmp")
            os.replace(root / "link.tmp", target)
            os.link(keep, root / "real.tmp")
            os.replace(root / "real.tmp", target)

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        # WHEN the file is downloaded 1,000 times meanwhile
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: download("/api/v1/download/hello.txt"), range(1000)))
    finally:
        stop.set()
        swapper.join()
    # THEN the outside file never came back, nor a 500, nor a broken answer; the mirrored one
    # did (at least once)
    replies = [answer for answer in answers if answer is not None]
    statuses = Counter(reply.status for reply in replies)
    leaked = sum(OUTSIDE in reply.body for reply in replies)
    broken = len(answers) - len(replies)
    assert (leaked, broken) == (0, 0), (
        f"of {len(answers)}: {leaked} outside, {broken} cut short; statuses {statuses}"
    )
    assert set(statuses) <= {200, 400, 404}, statuses
    assert all(reply.body == b"hello, mirror" for reply in replies if reply.status == 200)
    assert statuses[200] > 0


def test_a_hard_link_planted_at_a_mirrored_path_is_refused(
    api: Http, clients: Clients, stack: Stack, service_settings: Settings
) -> None:
    root = root_of(service_settings)
    mirror_one(api, clients, stack, "victim.txt", b"mirrored")
    outside = root.parent / "secret.txt"
    outside.write_bytes(OUTSIDE)
    (root / "victim.txt").unlink()
    os.link(outside, root / "victim.txt")
    reply = api.get("/api/v1/download/victim.txt")
    assert reply.status == 404, reply.body
    assert OUTSIDE not in reply.body


def test_a_symbolic_link_for_a_directory_on_the_way_is_refused(
    api: Http, clients: Clients, stack: Stack, service_settings: Settings
) -> None:
    # GIVEN dir/inner.txt mirrored, then dir/ replaced by a link to a directory outside that
    # holds another inner.txt
    root = root_of(service_settings)
    mirror_one(api, clients, stack, "dir/inner.txt", b"mirrored")
    elsewhere = root.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "inner.txt").write_bytes(OUTSIDE)
    (root / "dir" / "inner.txt").unlink()
    (root / "dir").rmdir()
    (root / "dir").symlink_to(elsewhere, target_is_directory=True)
    reply = api.get("/api/v1/download/dir/inner.txt")
    assert reply.status in (400, 404), reply.body
    assert OUTSIDE not in reply.body


def test_a_fifo_at_a_mirrored_path_is_refused_at_once(
    api: Http, clients: Clients, stack: Stack, service_settings: Settings
) -> None:
    root = root_of(service_settings)
    mirror_one(api, clients, stack, "pipe.txt", b"mirrored")
    (root / "pipe.txt").unlink()
    os.mkfifo(root / "pipe.txt")
    started = time.monotonic()
    replies = [api.get("/api/v1/download/pipe.txt") for _ in range(3)]
    assert time.monotonic() - started < 2.0
    assert [reply.status for reply in replies] == [404] * 3
    assert api.get("/ping").status == 200


def test_a_file_changed_in_place_is_no_longer_served(
    api: Http, clients: Clients, stack: Stack, service_settings: Settings
) -> None:
    root = root_of(service_settings)
    mirror_one(api, clients, stack, "edited.txt", b"mirrored")
    (root / "edited.txt").write_bytes(b"EDITED!!")  # same inode, same size, a new mtime
    assert api.get("/api/v1/download/edited.txt").status == 404


# --- 3. downloads as a person expects ---------------------------------------------------------


def object_headers(clients: Clients, stack: Stack, key: str) -> tuple[str, str]:
    head = clients.s3.head_object(Bucket=stack.bucket, Key=key)
    return head["ETag"], formatdate(head["LastModified"].timestamp(), usegmt=True)


def test_a_download_carries_the_objects_etag_and_last_modified(
    api: Http, clients: Clients, stack: Stack
) -> None:
    mirror_one(api, clients, stack, "doc.txt", b"the document")
    etag, modified = object_headers(clients, stack, "doc.txt")
    reply = api.get(download_path("doc.txt"))
    assert reply.status == 200
    assert reply.body == b"the document"
    assert reply.headers["etag"] == etag
    assert etag.startswith('"') and etag.endswith('"')
    assert reply.headers["last-modified"] == modified
    assert reply.headers["accept-ranges"] == "bytes"
    assert reply.headers["content-length"] == str(len(b"the document"))


def test_head_answers_the_headers_without_the_body(
    api: Http, clients: Clients, stack: Stack
) -> None:
    mirror_one(api, clients, stack, "doc.txt", b"the document")
    etag, modified = object_headers(clients, stack, "doc.txt")
    reply = api.request("HEAD", download_path("doc.txt"), headers=BEARER)
    missing = api.request("HEAD", download_path("nothing.txt"), headers=BEARER)
    assert reply.status == 200
    assert reply.body == b""
    assert reply.headers["content-length"] == str(len(b"the document"))
    assert (reply.headers["etag"], reply.headers["last-modified"]) == (etag, modified)
    assert reply.headers["accept-ranges"] == "bytes"
    assert missing.status == 404


def matching(etag: str) -> list[str]:
    return [etag, f"W/{etag}", f'"other", {etag}', f'W/"x",W/{etag}', "*"]


def test_if_none_match_of_the_etag_is_304_without_a_body(
    api: Http, clients: Clients, stack: Stack
) -> None:
    mirror_one(api, clients, stack, "doc.txt", b"the document")
    etag, modified = object_headers(clients, stack, "doc.txt")
    for value in matching(etag):
        for method in ("GET", "HEAD"):
            reply = api.request(method, "/api/v1/download/doc.txt", headers=inm(value))
            assert (reply.status, reply.body) == (304, b""), (method, value)
            assert reply.headers["etag"] == etag
            assert reply.headers["last-modified"] == modified
    other = api.get("/api/v1/download/doc.txt", inm('"other", W/"other2"'))
    assert (other.status, other.body) == (200, b"the document")
    since = api.get("/api/v1/download/doc.txt", {"If-Modified-Since": modified})
    assert since.status == 304


def test_if_range_honours_the_range_only_for_the_current_etag(
    api: Http, clients: Clients, stack: Stack
) -> None:
    mirror_one(api, clients, stack, "letters.txt", b"abcdefghijklmnopqrstuvwxyz")
    etag, _ = object_headers(clients, stack, "letters.txt")
    current = api.get("/api/v1/download/letters.txt", {"Range": "bytes=0-2", "If-Range": etag})
    stale = api.get("/api/v1/download/letters.txt", {"Range": "bytes=0-2", "If-Range": '"old"'})
    assert (current.status, current.body) == (206, b"abc")
    assert (stale.status, stale.body) == (200, b"abcdefghijklmnopqrstuvwxyz")


def test_several_ranges_come_as_multipart_byteranges(
    api: Http, clients: Clients, stack: Stack
) -> None:
    mirror_one(api, clients, stack, "letters.txt", b"abcdefghijklmnopqrstuvwxyz")
    reply = api.get("/api/v1/download/letters.txt", {"Range": "bytes=0-1, 24-"})
    assert reply.status == 206
    kind = reply.headers["content-type"]
    assert kind.startswith("multipart/byteranges; boundary=")
    boundary = kind.split("boundary=")[1]
    assert reply.body.count(f"--{boundary}".encode()) == 3
    assert b"Content-Range: bytes 0-1/26\r\n\r\nab\r\n" in reply.body
    assert b"Content-Range: bytes 24-25/26\r\n\r\nyz\r\n" in reply.body
    assert reply.headers["content-length"] == str(len(reply.body))


def inm(value: str) -> dict[str, str]:
    return {"If-None-Match": value, **BEARER}
