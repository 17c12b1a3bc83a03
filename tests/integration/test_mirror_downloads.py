"""The mirror sink's downloads against the moto server, over HTTP: what arrives is checked end
to end (S3's checksum, or else the MD5 of the etag) and refused when it differs, never for an
etag that is no MD5 (SSE-KMS, multipart); a large object streams through a small buffer.

Bytes are corrupted on the wire by ``_tamper``: S3 really answers, and what it sent is changed
before botocore or the mirror sees it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.httpsession import URLLib3Session
from tests.integration.mirroring import MiB, created, put, put_in_parts, temp_files

from bucketsync.aws.clients import Clients
from bucketsync.engine.update import Outcome
from bucketsync.errors import RetryableError
from bucketsync.sinks.mirror import MirrorSink


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
    key = "parts.bin"
    body = put_in_parts(clients, bucket, key)
    update = created(clients, bucket, key)
    assert update.state.etag is not None
    assert update.state.etag.endswith("-2")
    # WHEN it is mirrored THEN it is written whole, no corruption reported
    assert sink.apply([update]) == [Outcome.APPLIED]
    assert (root / key).read_bytes() == body


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
