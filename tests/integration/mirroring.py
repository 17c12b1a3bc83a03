"""What the mirror sink's integration tests write and read with: updates made as the engine
would make them, the files under a root, a bucket filled with objects, and mirror sinks started
one after the other over one root (``Sinks``, for the tests that lose their store)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bucketsync.aws.clients import Clients
from bucketsync.aws.s3 import S3ObjectSource
from bucketsync.engine.stamp import ObservationClock, sequencer_stamp
from bucketsync.engine.state import ABSENT
from bucketsync.engine.update import Update
from bucketsync.reconcile.mirror import rebuild
from bucketsync.sinks.mirror import MirrorSink
from bucketsync.sinks.mirror.download import TEMP_PREFIX
from bucketsync.sinks.mirror.paths import STATE_DIR

CLOCK = ObservationClock()
MiB = 1024 * 1024
STORE = f"{STATE_DIR}/state.sqlite"  # the store's file, under the root


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


def fill(clients: Clients, bucket: str, count: int) -> dict[str, bytes]:
    objects = {f"d{n % 4}/sub/{n:03d}.bin": f"object {n}".encode() * (n + 1) for n in range(count)}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: put(clients, bucket, *item), objects.items()))
    return objects


class Sinks:
    """Mirror sinks over one root, as a process would start them one after the other: each
    handed reconcile's rebuild, as ``bucketsync.compose`` hands it, since these stores get lost."""

    def __init__(self, clients: Clients, root: Path) -> None:
        self.clients = clients
        self.root = root
        self.opened: list[MirrorSink] = []

    def start(self, **options: Any) -> MirrorSink:
        sink = MirrorSink(
            self.clients.s3, self.root, concurrency=4, backoff=0.01, rebuild=rebuild, **options
        )
        self.opened.append(sink)
        return sink


def put_in_parts(clients: Clients, bucket: str, key: str) -> bytes:
    """An object uploaded in two parts: its etag is no MD5 of its bytes."""
    s3 = clients.s3
    chunks = [os.urandom(5 * MiB), os.urandom(1024)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=chunk
            )["ETag"],
        }
        for n, chunk in enumerate(chunks, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload,
        MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
    )
    return b"".join(chunks)
