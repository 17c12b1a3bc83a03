"""The HTTP sync service over real HTTP: downloads (ranges, traversal attempts) and listings."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from tests.integration.service_harness import (
    BEARER,
    Http,
    mirror_one,
    put,
)

from bucketsync.aws.clients import Clients
from bucketsync.local.stack import Stack
from bucketsync.settings import Settings

# --- downloads ----------------------------------------------------------------------------------


def test_a_range_request_gets_206_with_those_bytes(
    api: Http, clients: Clients, stack: Stack
) -> None:
    # GIVEN a mirrored file of 26 bytes
    mirror_one(api, clients, stack, "letters.txt", b"abcdefghijklmnopqrstuvwxyz")
    # WHEN bytes 2-5, the last 3, and a range past the end are asked for
    middle = api.get("/api/v1/download/letters.txt", {"Range": "bytes=2-5"})
    tail = api.get("/api/v1/download/letters.txt", {"Range": "bytes=-3"})
    beyond = api.get("/api/v1/download/letters.txt", {"Range": "bytes=100-200"})
    whole = api.get("/api/v1/download/letters.txt")
    # THEN 206 with exactly those bytes and their Content-Range, and 416 beyond the end
    assert middle.status == 206
    assert middle.body == b"cdef"
    assert middle.headers["content-range"] == "bytes 2-5/26"
    assert middle.headers["content-length"] == "4"
    assert tail.status == 206
    assert tail.body == b"xyz"
    assert beyond.status == 416
    assert whole.status == 200
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.body == b"abcdefghijklmnopqrstuvwxyz"


TRAVERSALS = [
    "../../etc/passwd",
    "%2e%2e/%2e%2e/etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "..\\..\\etc\\passwd",
    "..%5c..%5cetc%5cpasswd",
    "secret.txt%00",
    "%00",
    "..",
    ".",
    "",
    "../outside/secret.txt",
    "..%2foutside%2fsecret.txt",
    ".bucketsync/state.sqlite",
    "%2ebucketsync/state.sqlite",
]


@pytest.mark.parametrize("attempt", TRAVERSALS)
def test_traversal_attempts_never_serve_a_file_outside_the_mirror(
    api: Http, clients: Clients, stack: Stack, service_settings: Settings, attempt: str
) -> None:
    # GIVEN a secret file beside the mirror directory, and one mirrored file
    root = Path(str(service_settings.mirror_dir))
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_bytes(b"TOP-SECRET")
    mirror_one(api, clients, stack, "inside.txt", b"inside")
    # WHEN a path that climbs out (raw, percent-encoded, absolute, backslashed, NUL) is asked for
    reply = api.get("/api/v1/download/" + attempt)
    # THEN it is refused, and no byte of anything outside (or of the state) comes back
    assert reply.status in (400, 404), (reply.status, reply.body[:200])
    assert b"TOP-SECRET" not in reply.body
    assert b"root:" not in reply.body
    assert b"SQLite" not in reply.body
    assert "detail" in reply.json()


def test_a_symbolic_link_swapped_in_for_a_mirrored_file_is_not_followed(
    api: Http, clients: Clients, stack: Stack, service_settings: Settings
) -> None:
    # GIVEN a mirrored file replaced by a link to a file outside the mirror
    root = Path(str(service_settings.mirror_dir))
    mirror_one(api, clients, stack, "victim.txt", b"mirrored")
    secret = root.parent / "secret.txt"
    secret.write_bytes(b"TOP-SECRET")
    (root / "victim.txt").unlink()
    (root / "victim.txt").symlink_to(secret)
    # WHEN the key is downloaded
    reply = api.get("/api/v1/download/victim.txt")
    # THEN it is refused as not the mirror's file: the link is not followed
    assert reply.status == 404
    assert b"TOP-SECRET" not in reply.body


def test_a_file_the_mirror_did_not_write_is_not_served(
    api: Http, service_settings: Settings
) -> None:
    # GIVEN a file a user dropped into the mirror directory (no object stands for it)
    root = Path(str(service_settings.mirror_dir))
    (root / "dropped.txt").write_bytes(b"user's")
    # THEN it is not served
    assert api.get("/api/v1/download/dropped.txt").status == 404


# --- listings ----------------------------------------------------------------------------------


def pages(api: Http, source: str, prefix: str = "", limit: int = 2) -> list[list[str]]:
    """Every page of a listing, following next_cursor."""
    result: list[list[str]] = []
    cursor: str | None = None
    while True:
        query = f"source={source}&prefix={quote(prefix)}&limit={limit}"
        if cursor is not None:
            query += f"&cursor={quote(cursor)}"
        reply = api.get(f"/api/v1/files?{query}")
        assert reply.status == 200, reply.body
        page = reply.json()
        assert page["source"] == source
        result.append([item["key"] for item in page["files"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return result
        assert len(result) < 20, "the listing does not end"


def test_files_lists_the_bucket_and_the_mirror_page_by_page(
    api: Http, clients: Clients, stack: Stack
) -> None:
    # GIVEN five objects under d/ and one elsewhere, mirrored by a full sync
    keys = [f"d/{name}.txt" for name in "abcde"]
    for key in [*keys, "z/other.txt"]:
        put(clients, stack, key, key.encode())
    assert api.post("/api/v1/sync", headers=BEARER).status == 200
    # WHEN both sources are listed two at a time under d/
    s3_pages = pages(api, "s3", "d/")
    local_pages = pages(api, "local", "d/")
    # THEN each holds the five keys, in order, in pages of at most two, and nothing else
    for listed in (s3_pages, local_pages):
        assert [key for page in listed for key in page] == keys
        assert all(len(page) <= 2 for page in listed)
        assert len(listed) >= 3
    first = api.get("/api/v1/files?source=s3&prefix=d/&limit=1").json()["files"][0]
    assert first["size"] == len(b"d/a.txt")
    assert first["etag"] and '"' not in first["etag"]
    assert first["last_modified"]


def test_paging_passes_keys_with_control_characters(
    api: Http, clients: Clients, stack: Stack
) -> None:
    # GIVEN keys holding characters XML cannot carry (S3 echoes the cursor in XML)
    keys = ["c/a", "c/b\x1ab", "c/b\x1ab\x01z", "c/c"]
    for key in keys:
        put(clients, stack, key, b"x")
    try:
        # WHEN the bucket is listed one key a page, each cursor being such a key in turn
        listed = pages(api, "s3", "c/", limit=1)
    finally:
        # moto cannot list such keys' versions, which the stack's teardown does
        for key in keys:
            clients.s3.delete_object(Bucket=stack.bucket, Key=key)
    # THEN every key comes once, in order
    assert [key for page in listed for key in page] == keys


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "limit=x", "source=ftp", f"prefix={'p' * 1025}"]
)
def test_bad_listing_parameters_are_422(api: Http, query: str) -> None:
    reply = api.get(f"/api/v1/files?{query}")
    assert reply.status == 422
    assert reply.json()["detail"]
