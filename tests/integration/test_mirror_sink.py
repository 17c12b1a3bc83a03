"""The mirror sink and full sync against the moto server, over HTTP.

Each test has a bucket of its own and mirrors it under ``tmp_path / "root"``; everything else
under ``tmp_path`` is "outside", where nothing may ever appear.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session

from bucketsync.aws.clients import Clients
from bucketsync.aws.s3 import S3ObjectSource
from bucketsync.engine.pipeline import Engine
from bucketsync.engine.stamp import ObservationClock, sequencer_stamp
from bucketsync.engine.state import ABSENT, ObjectState
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import RetryableError
from bucketsync.events import Change, ChangeKind
from bucketsync.local.stack import StackNames
from bucketsync.reconcile.mirror import full_sync
from bucketsync.reconcile.periodic import PeriodicSync
from bucketsync.sinks.mirror import MirrorSink, local_path
from bucketsync.sinks.mirror.download import TEMP_PREFIX
from bucketsync.sinks.mirror.paths import STATE_DIR

CLOCK = ObservationClock()
MiB = 1024 * 1024


@pytest.fixture
def bucket(clients: Clients, names: StackNames) -> Iterator[str]:
    """A bucket of the test's own (no queue: these tests need no events)."""
    s3 = clients.s3
    s3.create_bucket(Bucket=names.bucket)
    yield names.bucket
    # One by one, as moto cannot put a NUL into DeleteObjects' or ListObjectVersions' XML
    # (so no teardown_stack); the hostile keys' bucket is never versioned.
    if s3.get_bucket_versioning(Bucket=names.bucket).get("Status"):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=names.bucket):
            for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                s3.delete_object(
                    Bucket=names.bucket, Key=version["Key"], VersionId=version["VersionId"]
                )
    else:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=names.bucket):
            keys = [obj["Key"] for obj in page.get("Contents", [])]
            for key in [key for key in keys if "\x00" in key]:
                s3.delete_object(Bucket=names.bucket, Key=key)
            if doomed := [{"Key": key} for key in keys if "\x00" not in key]:
                s3.delete_objects(Bucket=names.bucket, Delete={"Objects": doomed})
    s3.delete_bucket(Bucket=names.bucket)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def sink(clients: Clients, root: Path) -> Iterator[MirrorSink]:
    # No rebuild handed here or below: every sink starts on a new root, so its store is never
    # lost and owes none (tests/integration/test_mirror_state.py is where stores get lost).
    made = MirrorSink(clients.s3, root, concurrency=4, backoff=0.01)
    yield made
    made.close()


@pytest.fixture
def gets(clients: Clients) -> list[str]:
    """The key of every GetObject request the client sends from now on (either path)."""
    keys: list[str] = []

    def seen(request: AWSPreparedRequest, **_: Any) -> None:
        keys.append(unquote(urlsplit(request.url).path).split("/", 2)[2])  # /<bucket>/<key>

    clients.s3.meta.events.register("before-send.s3.GetObject", seen)
    return keys


def seq(n: int) -> str:
    return sequencer_stamp(f"{n:016X}")


def put(clients: Clients, bucket: str, key: str, body: bytes, **extra: Any) -> None:
    clients.s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)


def created(clients: Clients, bucket: str, key: str, stamp: str | None = None) -> Update:
    """The update the engine would make for ``key`` now (HeadObject's state, and when the
    lookup began)."""
    seen = CLOCK.stamp()
    state = S3ObjectSource(clients.s3).lookup(bucket, key)
    return Update(bucket, key, state, stamp or seen, (), seen)


def removed(bucket: str, key: str, stamp: str | None = None) -> Update:
    return Update(bucket, key, ABSENT, stamp or CLOCK.stamp(), ())


def temp_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.name.startswith(TEMP_PREFIX)]


def mirrored(root: Path) -> dict[str, bytes]:
    """Every file under the root but the state directory, by relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and path.relative_to(root).parts[0] != STATE_DIR
    }


# -- the sink, one update at a time -----------------------------------------------------------


def test_a_put_is_mirrored_with_its_content(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN an object in the bucket
    put(clients, bucket, "docs/read me.txt", b"hello, mirror\n")
    update = created(clients, bucket, "docs/read me.txt")
    # WHEN its update is applied
    assert sink.apply([update]) == [Outcome.APPLIED]
    # THEN the file holds the object, with the object's time, and the store knows it
    path = root / "docs/read me.txt"
    assert path.read_bytes() == b"hello, mirror\n"
    assert update.state.last_modified is not None
    assert path.stat().st_mtime == pytest.approx(update.state.last_modified.timestamp(), abs=1)
    entry = sink.store.get("docs/read me.txt")
    assert entry is not None
    assert (entry.path, entry.size, entry.etag, entry.stamp) == (
        "docs/read me.txt",
        14,
        update.state.etag,
        update.stamp,
    )
    assert temp_files(root) == []
    assert sink.counters()["downloaded"] == 1
    assert sink.counters()["bytes"] == 14


def test_an_overwrite_replaces_the_file(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    put(clients, bucket, "k.txt", b"first version, longer")
    sink.apply([created(clients, bucket, "k.txt")])
    put(clients, bucket, "k.txt", b"second")
    assert sink.apply([created(clients, bucket, "k.txt")]) == [Outcome.APPLIED]
    assert (root / "k.txt").read_bytes() == b"second"


def test_a_delete_removes_the_file_and_prunes_empty_directories(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN two mirrored files sharing the directory a/
    for key in ("a/b/c/d.txt", "a/keep.txt"):
        put(clients, bucket, key, b"x")
        sink.apply([created(clients, bucket, key)])
    # WHEN the deep one is deleted
    clients.s3.delete_object(Bucket=bucket, Key="a/b/c/d.txt")
    assert sink.apply([removed(bucket, "a/b/c/d.txt")]) == [Outcome.APPLIED]
    # THEN its file and the directories it leaves empty are gone, the rest stays
    assert not (root / "a/b").exists()
    assert (root / "a/keep.txt").read_bytes() == b"x"
    entry = sink.store.get("a/b/c/d.txt")
    assert entry is not None
    assert not entry.present
    # AND deleting again, or a file already removed by hand, is fine
    assert sink.apply([removed(bucket, "a/b/c/d.txt")]) == [Outcome.APPLIED]
    (root / "a/keep.txt").unlink()
    assert sink.apply([removed(bucket, "a/keep.txt")]) == [Outcome.APPLIED]
    assert sorted(p.name for p in root.iterdir()) == [STATE_DIR]


def test_older_and_duplicate_updates_never_replace_a_newer_file(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path, gets: list[str]
) -> None:
    # GIVEN a versioned bucket and updates naming versions by id (no IfMatch to save us)
    clients.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    versions = []
    for body in (b"version one", b"version two"):
        answer = clients.s3.put_object(Bucket=bucket, Key="v.txt", Body=body)
        versions.append(answer["VersionId"])
    older, newer = (
        Update(bucket, "v.txt", ObjectState(present=True, version_id=v), seq(n), ())
        for n, v in enumerate(versions, start=1)
    )
    # WHEN the newer arrives first, then itself again, then the older
    assert sink.apply([newer]) == [Outcome.APPLIED]
    assert sink.apply([newer, older]) == [Outcome.STALE, Outcome.STALE]
    # THEN the file keeps the newer content, and the stale ones cost no download
    assert (root / "v.txt").read_bytes() == b"version two"
    assert gets == ["v.txt"]
    assert sink.counters()["stale"] == 2


def test_one_batch_in_any_order_ends_on_the_newest(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    clients.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    updates = []
    for n in range(1, 6):
        answer = clients.s3.put_object(Bucket=bucket, Key="k", Body=f"v{n}".encode())
        state = ObjectState(present=True, version_id=answer["VersionId"])
        updates.append(Update(bucket, "k", state, seq(n), ()))
    results = sink.apply([*reversed(updates), *updates])
    assert results.count(Outcome.APPLIED) >= 1
    assert set(results) <= {Outcome.APPLIED, Outcome.STALE}
    assert (root / "k").read_bytes() == b"v5"


def test_a_late_create_after_a_delete_is_stale(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path, gets: list[str]
) -> None:
    put(clients, bucket, "k", b"short-lived")
    create = created(clients, bucket, "k", seq(1))
    clients.s3.delete_object(Bucket=bucket, Key="k")
    assert sink.apply([removed(bucket, "k", seq(2))]) == [Outcome.APPLIED]
    assert sink.apply([create]) == [Outcome.STALE]
    assert not (root / "k").exists()
    assert gets == []


def test_an_event_delete_over_a_full_sync_row_is_confirmed_first(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN a file a full sync wrote (observation stamp) and still in the bucket
    put(clients, bucket, "k", b"still here")
    full_sync(sink, clients.s3, bucket)
    # WHEN a late delete event (sequencer stamp, not comparable) arrives
    # THEN the sink asks for it to be confirmed, touching nothing
    assert sink.apply([removed(bucket, "k", seq(1))]) == [Outcome.CONFIRM]
    assert (root / "k").exists()
    # AND through the engine, HeadObject finds the object: what it observes is what the
    # mirror holds (skipped, nothing downloaded), and the file stays
    engine = Engine(S3ObjectSource(clients.s3), [sink])
    delete = Change(bucket, "k", ChangeKind.REMOVED, "ObjectRemoved:Delete", sequencer="01")
    assert engine.process_changes([delete]).outcomes == {"mirror": {"skipped": 1}}
    assert (root / "k").read_bytes() == b"still here"
    # AND the object's real delete, a later event, applies
    clients.s3.delete_object(Bucket=bucket, Key="k")
    real = Change(bucket, "k", ChangeKind.REMOVED, "ObjectRemoved:Delete", sequencer="02")
    assert engine.process_changes([real]).outcomes == {"mirror": {"applied": 1}}
    assert not (root / "k").exists()


def test_an_observation_older_than_the_file_does_not_delete_it(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN an observation begun (a listing that did not see the key) ...
    began = CLOCK.stamp()
    # ... and then an event that wrote the key
    put(clients, bucket, "k", b"new")
    assert sink.apply([created(clients, bucket, "k", seq(7))]) == [Outcome.APPLIED]
    # WHEN the observation's delete lands
    # THEN it is older than the file: stale
    assert sink.apply([removed(bucket, "k", began)]) == [Outcome.STALE]
    assert (root / "k").read_bytes() == b"new"


def test_skip_existing_records_the_stamp_without_a_download(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path, gets: list[str]
) -> None:
    put(clients, bucket, "same.txt", b"unchanged")
    sink.apply([created(clients, bucket, "same.txt")])
    again = created(clients, bucket, "same.txt")
    assert sink.apply([again]) == [Outcome.SKIPPED]
    assert gets == ["same.txt"]
    entry = sink.store.get("same.txt")
    assert entry is not None
    assert entry.stamp == again.stamp
    # a file removed by hand is not "existing": it comes back
    (root / "same.txt").unlink()
    assert sink.apply([created(clients, bucket, "same.txt")]) == [Outcome.APPLIED]
    assert gets == ["same.txt", "same.txt"]


def test_without_skip_existing_every_update_downloads(
    clients: Clients, bucket: str, root: Path, gets: list[str]
) -> None:
    put(clients, bucket, "same.txt", b"unchanged")
    with_downloads = MirrorSink(clients.s3, root, skip_existing=False)
    try:
        for _ in range(2):
            assert with_downloads.apply([created(clients, bucket, "same.txt")]) == [Outcome.APPLIED]
    finally:
        with_downloads.close()
    assert gets == ["same.txt", "same.txt"]


def test_objects_over_the_limit_are_skipped_with_a_logged_reason(
    clients: Clients, bucket: str, root: Path, caplog: pytest.LogCaptureFixture, gets: list[str]
) -> None:
    limited = MirrorSink(clients.s3, root, max_file_bytes=MiB)
    put(clients, bucket, "big.bin", b"x" * (MiB + 1))
    put(clients, bucket, "small.bin", b"x" * MiB)
    head_said = created(clients, bucket, "big.bin")
    # an update that does not know the size: GetObject's length decides
    lean = Update(bucket, "big.bin", ObjectState(present=True), CLOCK.stamp(), ())
    try:
        with caplog.at_level(logging.WARNING, logger="bucketsync.sinks.mirror"):
            results = limited.apply([head_said, created(clients, bucket, "small.bin")])
            assert gets == ["small.bin"]  # HeadObject's size was enough to skip it
            assert limited.apply([lean]) == [Outcome.SKIPPED]
        entry = limited.store.get("big.bin")
        stats = limited.store.stats()
    finally:
        limited.close()
    assert results == [Outcome.SKIPPED, Outcome.APPLIED]
    assert not (root / "big.bin").exists()
    assert (root / "small.bin").stat().st_size == MiB
    assert "big.bin" in caplog.text
    assert "1.0 MB is over the 1.0 MB limit" in caplog.text
    assert entry is not None
    assert (entry.status, entry.present, entry.size) == ("too_large", True, MiB + 1)
    assert (stats["too_large"], stats["files"]) == (1, 1)


class _Raw(io.BytesIO):
    """A response body as urllib3 gives it to botocore."""

    def stream(self, amt: int = 1024, decode_content: bool | None = None) -> Iterator[bytes]:
        while chunk := self.read(amt):
            yield chunk


def _tamper(
    clients: Clients,
    body: Callable[[bytes], bytes],
    headers: Callable[[dict[str, str]], None] = lambda _: None,
) -> list[int]:
    """From now on each GetObject's 200 arrives with ``body(real bytes)`` and ``headers``
    changed in place: S3 really answers, and the bytes change on the wire, before botocore
    or the mirror sees them. Returns a call counter."""
    calls: list[int] = []
    wire = URLLib3Session()

    def tampered(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        real = wire.send(request)
        if real.status_code != 200:
            return real
        calls.append(1)
        data = body(real.raw.read())
        changed = {name.lower(): value for name, value in real.headers.items()}
        changed["content-length"] = str(len(data))
        headers(changed)
        return AWSResponse(request.url, 200, cast(Any, changed), _Raw(data))

    # a before-send handler's response is what botocore (and the presigned path) then reads
    clients.s3.meta.events.register("before-send.s3.GetObject", tampered)  # type: ignore[arg-type]
    return calls


def _no_checksums(headers: dict[str, str]) -> None:
    for name in [name for name in headers if name.startswith("x-amz-checksum-")]:
        del headers[name]


def test_an_md5_mismatch_fails_the_download_and_keeps_the_old_file(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN a mirrored file, then a new version whose bytes arrive corrupted
    put(clients, bucket, "k.txt", b"good old content")
    sink.apply([created(clients, bucket, "k.txt")])
    put(clients, bucket, "k.txt", b"good new content")

    # (and no additional checksum, as from an SDK that sends none, so that MD5 alone can tell)
    calls = _tamper(clients, lambda data: data[:-1] + bytes([data[-1] ^ 1]), _no_checksums)
    # WHEN the update is applied
    (result,) = sink.apply([created(clients, bucket, "k.txt")])
    # THEN it fails, retryable, after every attempt; the old file and nothing else remains
    assert isinstance(result, RetryableError)
    assert "MD5" in str(result)
    assert len(calls) == 3
    assert (root / "k.txt").read_bytes() == b"good old content"
    assert temp_files(root) == []
    assert sink.counters()["failed"] == 1


def test_bytes_corrupted_on_the_wire_are_caught_by_s3s_checksum(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN an object with the CRC32 botocore adds to uploads, whose bytes arrive flipped
    put(clients, bucket, "k.bin", b"some payload")
    calls = _tamper(clients, lambda data: data[:-1] + bytes([data[-1] ^ 1]))
    (result,) = sink.apply([created(clients, bucket, "k.bin")])
    # THEN botocore's check of S3's checksum refuses them, before any MD5 is compared
    assert isinstance(result, RetryableError)
    assert "did not match calculated checksum" in str(result)
    assert len(calls) == 3
    assert not (root / "k.bin").exists()
    assert temp_files(root) == []


def test_one_end_to_end_check_is_made_the_checksum_before_the_md5(
    clients: Clients, bucket: str, sink: MirrorSink, caplog: pytest.LogCaptureFixture
) -> None:
    # botocore's uploads carry a CRC32, which S3 keeps: that check makes an MD5 redundant
    put(clients, bucket, "crc.bin", b"with a checksum")
    put(clients, bucket, "plain.bin", b"without one")
    with caplog.at_level(logging.INFO, logger="bucketsync.sinks.mirror"):
        sink.apply([created(clients, bucket, "crc.bin")])
        _tamper(clients, lambda data: data, _no_checksums)  # as an SDK that sends none
        sink.apply([created(clients, bucket, "plain.bin")])
    assert "crc.bin (15 bytes, verified: checksum)" in caplog.text
    assert "plain.bin (11 bytes, verified: md5)" in caplog.text


def test_without_verification_corruption_goes_unnoticed(
    clients: Clients, bucket: str, root: Path
) -> None:
    # The control for the test above: the MD5 comparison is what caught it.
    put(clients, bucket, "k.txt", b"content")
    _tamper(clients, lambda _: b"CONTENT")
    trusting = MirrorSink(clients.s3, root, verify=False)
    try:
        assert trusting.apply([created(clients, bucket, "k.txt")]) == [Outcome.APPLIED]
    finally:
        trusting.close()
    assert (root / "k.txt").read_bytes() == b"CONTENT"


def test_a_checksum_mismatch_fails_the_download(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN intact bytes that S3's SHA256 (as botocore checks it) does not match
    put(clients, bucket, "k.bin", b"payload", ChecksumAlgorithm="SHA256")
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()

    calls = _tamper(
        clients, lambda data: data, lambda h: h.update({"x-amz-checksum-sha256": wrong})
    )
    (result,) = sink.apply([created(clients, bucket, "k.bin")])
    assert isinstance(result, RetryableError)
    assert "checksum" in str(result).lower()
    assert len(calls) == 3  # every attempt read the bytes and refused them
    assert not (root / "k.bin").exists()
    assert temp_files(root) == []


def test_an_sse_kms_etag_is_not_taken_for_an_md5(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # On AWS the etag of an SSE-KMS object is not the MD5 of its bytes (moto's still is):
    # bytes that differ from the etag's digest stand for that, and must not fail.
    put(clients, bucket, "kms.bin", b"plaintext", ServerSideEncryption="aws:kms")
    _tamper(clients, lambda _: b"PLAINTEXT", _no_checksums)
    assert sink.apply([created(clients, bucket, "kms.bin")]) == [Outcome.APPLIED]
    assert (root / "kms.bin").read_bytes() == b"PLAINTEXT"


def test_an_object_with_an_additional_checksum_mirrors(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    put(clients, bucket, "sha.bin", b"checked twice", ChecksumAlgorithm="SHA256")
    update = created(clients, bucket, "sha.bin")
    assert update.state.checksum_algorithm == "SHA256"
    assert sink.apply([update]) == [Outcome.APPLIED]
    assert (root / "sha.bin").read_bytes() == b"checked twice"


def test_a_multipart_object_mirrors_and_is_not_called_corrupt(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN an object uploaded in two parts: its etag is not an MD5 of the bytes
    s3, key = clients.s3, "parts.bin"
    parts_data = [os.urandom(5 * MiB), os.urandom(1024)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=data
            )["ETag"],
        }
        for n, data in enumerate(parts_data, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload,
        MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
    )
    update = created(clients, bucket, key)
    assert update.state.etag is not None
    assert update.state.etag.endswith("-2")
    # WHEN it is mirrored THEN it is written whole, no corruption reported
    assert sink.apply([update]) == [Outcome.APPLIED]
    assert (root / key).read_bytes() == b"".join(parts_data)


def test_a_large_object_streams_through_a_small_buffer(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path, tmp_path: Path
) -> None:
    # GIVEN a 64 MB object (uploaded from a file, so the test itself never holds it)
    source = tmp_path / "large.bin"
    block = os.urandom(MiB)
    with source.open("wb") as out:
        for _ in range(64):
            out.write(block)
    with source.open("rb") as body:
        clients.s3.put_object(Bucket=bucket, Key="large.bin", Body=body)
    update = created(clients, bucket, "large.bin")
    # WHEN it is mirrored, with every Python allocation traced
    tracemalloc.start()
    try:
        assert sink.apply([update]) == [Outcome.APPLIED]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # THEN memory stayed at a few chunks, far below the object's size
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"
    assert (root / "large.bin").stat().st_size == 64 * MiB
    with (root / "large.bin").open("rb") as written:
        assert hashlib.file_digest(written, "md5").hexdigest() == update.state.etag


def test_one_bad_key_never_fails_its_neighbours(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    put(clients, bucket, "ok-1", b"1")
    put(clients, bucket, "ok-2", b"2")
    results = sink.apply(
        [
            created(clients, bucket, "ok-1"),
            Update(bucket, "x" * 300, ObjectState(present=True, size=1), CLOCK.stamp(), ()),
            Update(bucket, "never-there", ObjectState(present=True, etag="0" * 32), "O1", ()),
            Update(bucket, "folder/", ObjectState(present=True, size=0), CLOCK.stamp(), ()),
            created(clients, bucket, "ok-2"),
        ]
    )
    assert results == [
        Outcome.APPLIED,
        Outcome.REJECTED,
        Outcome.STALE,  # 404: that state is gone, a newer one's update follows
        Outcome.SKIPPED,  # a folder placeholder is not a file
        Outcome.APPLIED,
    ]
    assert mirrored(root) == {"ok-1": b"1", "ok-2": b"2"}


# -- hostile keys ---------------------------------------------------------------------------

HOSTILE = [
    "../x",
    "a/../../x",
    "../../outside/planted",
    "/etc/passwd",
    "a\\..\\..\\x",
    "..\\..\\evil",
    "a\x00b",
    "line\nbreak",
    "x" * 300,
    ".",
    "..",
    "a/./b",
    "a//b",
    ".bucketsync/state.sqlite",
    ".bucketsync-fake",
    "%2E%2E",
    "%2e%2e/%2F",
    "dir/",
    "日本語/ü.txt",
    "clash",
    "clash/inner",
]


def test_hostile_keys_never_escape_the_root(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path, tmp_path: Path
) -> None:
    # GIVEN a sentinel outside the root, and every hostile key S3 accepts, uploaded
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel").write_bytes(b"untouched")
    accepted = {}
    for n, key in enumerate(HOSTILE):
        try:
            put(clients, bucket, key, f"body {n}".encode())
        except ClientError:
            continue
        accepted[key] = f"body {n}".encode()
    assert len(accepted) >= len(HOSTILE) - 4, f"moto refused too many: {accepted.keys()}"
    # WHEN all are applied, accepted or not
    updates = [
        created(clients, bucket, key)
        if key in accepted
        else Update(bucket, key, ObjectState(present=True, size=1, etag="0" * 32), "O1", ())
        for key in HOSTILE
    ]
    results = sink.apply(updates)
    assert not any(isinstance(result, BaseException) for result in results), results
    # THEN nothing exists outside the root but what was there
    for directory, subdirectories, names in os.walk(tmp_path):
        for name in subdirectories + names:
            path = Path(directory) / name
            assert path == root or path.is_relative_to(root) or path.is_relative_to(outside), path
    assert sorted(p.name for p in outside.iterdir()) == ["sentinel"]
    assert (outside / "sentinel").read_bytes() == b"untouched"
    # AND every file inside is one the store accounts for, holding its key's object
    state = root / STATE_DIR
    assert sorted(p.name for p in state.iterdir() if not p.name.startswith("state.sqlite")) == []
    files = {
        path.relative_to(root).as_posix(): path
        for path in root.rglob("*")
        if path.is_file() and not path.is_relative_to(state)
    }
    owners = {e.path: e for e in sink.store.entries(limit=10_000) if e.on_disk}
    assert files.keys() == owners.keys()
    for relative, path in files.items():
        assert path.read_bytes() == accepted[owners[relative].key]
    assert files, "nothing was mirrored at all"
    # AND a full sync over the same keys keeps it so
    report = full_sync(sink, clients.s3, bucket)
    assert (report.failed, report.deleted, report.untracked) == (0, 0, 0)
    assert sorted(p.name for p in outside.iterdir()) == ["sentinel"]


def test_a_symlink_planted_in_the_root_is_not_followed(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path, tmp_path: Path
) -> None:
    # GIVEN links in the root to a directory and to a file outside it
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "file").symlink_to(outside / "target")
    for key in ("link/x.txt", "file"):
        put(clients, bucket, key, b"must stay inside")
    # WHEN their keys are applied THEN both are refused with the reason, nothing is written
    results = sink.apply([created(clients, bucket, k) for k in ("link/x.txt", "file")])
    assert results == [Outcome.REJECTED, Outcome.REJECTED]
    assert list(outside.iterdir()) == []
    entry = sink.store.get("link/x.txt")
    assert entry is not None
    assert (entry.status, "symbolic link" in entry.reason) == ("refused", True)
    assert sink.counters()["refused"] == 2


@pytest.mark.parametrize("first", ["a", "a/b"])
def test_a_key_clashing_with_a_directory_is_refused(
    clients: Clients, bucket: str, sink: MirrorSink, caplog: pytest.LogCaptureFixture, first: str
) -> None:
    # GIVEN "a" and "a/b", which cannot both be files; one is mirrored first
    second = "a/b" if first == "a" else "a"
    put(clients, bucket, "a", b"file a")
    put(clients, bucket, "a/b", b"file a/b")
    assert sink.apply([created(clients, bucket, first)]) == [Outcome.APPLIED]
    # WHEN the other comes THEN it is refused, logged with why, and the first is untouched
    with caplog.at_level(logging.WARNING, logger="bucketsync.sinks.mirror"):
        assert sink.apply([created(clients, bucket, second)]) == [Outcome.REJECTED]
    assert "not mirroring" in caplog.text
    assert "'a'" in caplog.text
    assert mirrored(sink.root) == {first: f"file {first}".encode()}
    entry = sink.store.get(second)
    assert entry is not None
    assert entry.status == "refused"
    assert "a" in entry.reason
    # AND once the first is gone, a full sync brings the second
    clients.s3.delete_object(Bucket=bucket, Key=first)
    assert sink.apply([removed(bucket, first)]) == [Outcome.APPLIED]
    full_sync(sink, clients.s3, bucket)
    assert mirrored(sink.root) == {second: f"file {second}".encode()}


# -- full sync ------------------------------------------------------------------------------


def fill(clients: Clients, bucket: str, count: int) -> dict[str, bytes]:
    objects = {f"d{n % 4}/sub/{n:03d}.bin": f"object {n}".encode() * (n + 1) for n in range(count)}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: put(clients, bucket, *item), objects.items()))
    return objects


def test_full_sync_into_an_empty_directory_downloads_everything(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    objects = fill(clients, bucket, 40)
    put(clients, bucket, "folder/", b"")  # a console "folder": no file
    seen: list[tuple[int, int]] = []
    report = full_sync(sink, clients.s3, bucket, progress=lambda d, t: seen.append((d, t)))
    assert (report.listed, report.downloaded, report.failed) == (40, 40, 0)
    assert mirrored(root) == objects
    assert not report.deletes_refused
    assert seen[-1] == (40, 40)
    assert [d.operation for d in report.details] == ["download"] * 40


def test_full_sync_downloads_only_what_changed(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path, gets: list[str]
) -> None:
    objects = fill(clients, bucket, 100)
    full_sync(sink, clients.s3, bucket)
    gets.clear()
    before = sink.store.get("d0/sub/000.bin")
    # GIVEN 1% of the objects changed
    put(clients, bucket, "d1/sub/041.bin", b"changed")
    objects["d1/sub/041.bin"] = b"changed"
    # WHEN synced again THEN only that one is downloaded
    report = full_sync(sink, clients.s3, bucket)
    assert gets == ["d1/sub/041.bin"]
    assert (report.downloaded, report.skipped) == (1, 99)
    assert mirrored(root) == objects
    # the unchanged ones were compared in the march, never handed to the sink
    assert sink.store.get("d0/sub/000.bin") == before


def test_full_sync_removes_what_is_gone_and_leaves_user_files(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    objects = fill(clients, bucket, 12)
    full_sync(sink, clients.s3, bucket)
    (root / "d0/my notes.txt").write_bytes(b"mine")
    (root / "100%.txt").write_bytes(b"also mine")
    gone = ["d0/sub/000.bin", "d1/sub/005.bin", "d3/sub/011.bin"]
    clients.s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in gone]})
    report = full_sync(sink, clients.s3, bucket)
    assert report.deleted == 3
    assert report.untracked == 2
    expected = {k: v for k, v in objects.items() if k not in gone}
    expected |= {"d0/my notes.txt": b"mine", "100%.txt": b"also mine"}
    assert mirrored(root) == expected


def _fail_listing_page(clients: Clients, page: int) -> None:
    calls: list[int] = []

    def fail(**_: Any) -> None:
        calls.append(1)
        if len(calls) == page:
            raise ClientError(
                {"Error": {"Code": "InternalError", "Message": "injected"}}, "ListObjectsV2"
            )

    clients.s3.meta.events.register("before-call.s3.ListObjectsV2", fail)


def test_a_listing_error_deletes_nothing(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN a mirrored bucket in which two objects were deleted and one added
    fill(clients, bucket, 6)
    full_sync(sink, clients.s3, bucket)
    clients.s3.delete_object(Bucket=bucket, Key="d0/sub/000.bin")
    clients.s3.delete_object(Bucket=bucket, Key="d3/sub/003.bin")
    put(clients, bucket, "+new", b"new")  # sorts first: on the page that is listed
    # WHEN the listing's second page fails
    _fail_listing_page(clients, page=2)
    report = full_sync(sink, clients.s3, bucket, page_size=2)
    # THEN nothing is deleted, it says why, and what was listed is still downloaded
    assert report.deletes_refused
    assert report.deleted == 0
    assert any("injected" in error for error in report.errors)
    assert (root / "d0/sub/000.bin").exists()
    assert (root / "d3/sub/003.bin").exists()
    assert (root / "+new").read_bytes() == b"new"
    # AND the next clean run deletes them
    report = full_sync(sink, clients.s3, bucket, page_size=2)
    assert (report.deleted, report.deletes_refused) == (2, False)


def test_an_object_created_during_the_listing_is_not_deleted(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN an object that arrives (and whose event is applied) just after the listing
    fill(clients, bucket, 3)
    arrived: list[int] = []

    def arrive(**_: Any) -> None:
        if not arrived:
            arrived.append(1)
            put(clients, bucket, "zz-late", b"late")
            assert sink.apply([created(clients, bucket, "zz-late")]) == [Outcome.APPLIED]

    clients.s3.meta.events.register("after-call.s3.ListObjectsV2", arrive)
    # WHEN the full sync, whose listing did not see it, ends
    report = full_sync(sink, clients.s3, bucket)
    # THEN the file stays: no delete was even attempted
    assert arrived
    assert report.deleted == 0
    assert [d for d in report.details if d.operation == "delete"] == []
    assert (root / "zz-late").read_bytes() == b"late"


def test_an_object_recreated_during_the_listing_is_not_deleted(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    # GIVEN a mirrored object, deleted from the bucket (its event not yet seen) ...
    fill(clients, bucket, 3)
    put(clients, bucket, "back", b"old")
    full_sync(sink, clients.s3, bucket)
    clients.s3.delete_object(Bucket=bucket, Key="back")
    again: list[int] = []

    def recreate(**_: Any) -> None:
        # ... and re-created, with its event applied, once the listing (without it) is out
        if not again:
            again.append(1)
            put(clients, bucket, "back", b"new")
            assert sink.apply([created(clients, bucket, "back", seq(1))]) == [Outcome.APPLIED]

    clients.s3.meta.events.register("after-call.s3.ListObjectsV2", recreate)
    # WHEN the full sync ends
    report = full_sync(sink, clients.s3, bucket)
    # THEN its row, written after the listing began, is not taken for a deleted object
    assert again
    assert [d for d in report.details if d.operation == "delete"] == []
    assert (root / "back").read_bytes() == b"new"


def test_full_sync_honours_the_prefixes(clients: Clients, bucket: str, root: Path) -> None:
    fill(clients, bucket, 8)
    scoped = MirrorSink(clients.s3, root, prefix="d1/")
    try:
        report = full_sync(scoped, clients.s3, bucket)
        assert report.listed == 2
        assert sorted(mirrored(root)) == ["d1/sub/001.bin", "d1/sub/005.bin"]
        assert full_sync(scoped, clients.s3, bucket, prefix="d1/sub/00").listed == 2
    finally:
        scoped.close()


def test_periodic_sync_runs_and_stops_promptly(
    clients: Clients, bucket: str, sink: MirrorSink, root: Path
) -> None:
    put(clients, bucket, "first", b"1")
    periodic = PeriodicSync(sink, clients.s3, bucket, interval=0.1, run_now=True)
    periodic.start()
    try:
        _wait_for((root / "first").exists)
        put(clients, bucket, "second", b"2")
        _wait_for((root / "second").exists)
        assert periodic.running
        assert periodic.last is not None
    finally:
        began = time.monotonic()
        periodic.stop()
        stopped_in = time.monotonic() - began
    assert stopped_in < 1.0
    assert not periodic.running
    # AND a schedule waiting out a long interval stops as promptly
    idle = PeriodicSync(sink, clients.s3, bucket, interval=3600)
    idle.start()
    began = time.monotonic()
    idle.stop()
    assert time.monotonic() - began < 1.0
    assert not idle.running


def test_a_failing_periodic_run_does_not_stop_the_schedule(
    clients: Clients, bucket: str, root: Path
) -> None:
    scoped = MirrorSink(clients.s3, root, prefix="a/")
    periodic = PeriodicSync(scoped, clients.s3, bucket, interval=0.05, prefix="b/", run_now=True)
    periodic.start()
    try:
        _wait_for(lambda: periodic.last_error is not None)
        time.sleep(0.15)  # several more failing runs
        assert periodic.running
    finally:
        periodic.stop()
        scoped.close()


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_local_path_is_where_the_sink_writes(
    clients: Clients, bucket: str, sink: MirrorSink
) -> None:
    put(clients, bucket, "odd/../name%", b"z")
    sink.apply([created(clients, bucket, "odd/../name%")])
    assert local_path(sink.root, "odd/../name%").read_bytes() == b"z"


def test_concurrent_applies_of_many_keys(clients: Clients, bucket: str, sink: MirrorSink) -> None:
    objects = fill(clients, bucket, 24)
    updates = [created(clients, bucket, key) for key in objects]
    results: list[list[Outcome | BaseException]] = []
    threads = [
        threading.Thread(target=lambda: results.append(sink.apply(updates))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [r for batch in results for r in batch]
    # each key is written once; the same stamp twice more is a duplicate
    assert (flat.count(Outcome.APPLIED), flat.count(Outcome.STALE)) == (24, 48)
    assert mirrored(sink.root) == objects
