"""Mirroring a bucket into a local directory: bucketsync's mirror vs rclone, same emulator.

2,000 objects of mixed sizes (most a few KB, some up to several MB) are uploaded, then:

1. Full sync into empty directories, each side twice, alternately:
   ``bucketsync.sinks.mirror.full_sync`` (the settings' concurrency, 16 by default) and
   ``rclone sync`` (Debian's rclone, default flags: 4 transfers, 8 checkers). Best of two each.
2. 1% of the objects (20) are overwritten with new content. Then:
   - bucketsync driven by events: the SQS worker drains the 20 notifications moto sent and
     the mirror downloads the changed objects (timed until all 20 are on disk);
   - bucketsync's own rescan: ``full_sync`` again (listing compare against its state store);
   - rclone's rescan: ``rclone sync`` again (by default it compares size and modification
     time, which S3 keeps in metadata: one HEAD per object).
Every side's AWS requests are counted (botocore events for bucketsync; rclone's
``--dump headers`` request lines). Each mirror is then checked against the bucket.

rclone 1.60 fails when ``AWS_CA_BUNDLE`` is set (this machine exports one): it is unset for it.

    .venv/bin/python -m bench.mirror_sync [--objects 2000] [--changed-percent 1]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.cpu import process_cpu
from bucketsync.aws.clients import Clients
from bucketsync.aws.request_counter import RequestCounter
from bucketsync.aws.s3 import S3ObjectSource
from bucketsync.engine.pipeline import Engine
from bucketsync.local.emulator import (
    FAKE_ACCESS_KEY_ID,
    FAKE_SECRET_ACCESS_KEY,
    Emulator,
    emulator_settings,
)
from bucketsync.local.stack import StackNames, ensure_stack
from bucketsync.reconcile import list_bucket
from bucketsync.reconcile.mirror import full_sync, rebuild
from bucketsync.runtimes.worker import Worker
from bucketsync.sinks.mirror import MirrorSink

KB, MB = 1024, 1024 * 1024
TARGET_FULL = 1.0  # bucketsync's full sync takes at most rclone's time
TARGET_UPDATE = 10.0  # rclone's rescan takes at least 10x the event-driven update
_REQUEST = re.compile(r"DEBUG : (GET|HEAD|PUT|POST|DELETE) /")


def sizes(count: int, rng: random.Random) -> list[int]:
    """Mostly small files, a tail of large ones (the shape of a typical data bucket)."""
    out = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.60:
            out.append(rng.randint(1 * KB, 16 * KB))
        elif roll < 0.90:
            out.append(rng.randint(16 * KB, 256 * KB))
        elif roll < 0.99:
            out.append(rng.randint(256 * KB, 1 * MB))
        else:
            out.append(rng.randint(2 * MB, 8 * MB))
    return out


def body(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def upload(s3: Any, bucket: str, objects: dict[str, int], seed: int) -> None:
    def put(item: tuple[int, tuple[str, int]]) -> None:
        n, (key, size) = item
        s3.put_object(Bucket=bucket, Key=key, Body=body(size, seed * 1_000_003 + n))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, enumerate(objects.items())))


# -- rclone ---------------------------------------------------------------------------------


def rclone(emulator: Emulator, bucket: str, target: Path) -> tuple[float, dict[str, int]]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    env |= {
        "RCLONE_CONFIG_EMU_TYPE": "s3",
        "RCLONE_CONFIG_EMU_PROVIDER": "Other",
        "RCLONE_CONFIG_EMU_ENDPOINT": emulator.endpoint_url,
        "RCLONE_CONFIG_EMU_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
        "RCLONE_CONFIG_EMU_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
        "RCLONE_CONFIG_EMU_REGION": "us-east-1",
        "RCLONE_CONFIG_EMU_FORCE_PATH_STYLE": "true",
    }
    command = ["rclone", "sync", f"emu:{bucket}", str(target), "--config", "/dev/null"]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--dump", "headers"], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"rclone failed ({done.returncode}): {done.stderr[-2000:]}")
    counts: dict[str, int] = {}
    for match in _REQUEST.finditer(done.stderr):
        counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return seconds, counts


# -- bucketsync -----------------------------------------------------------------------------


def mirror(clients: Clients, root: Path) -> MirrorSink:
    """The mirror as ``bucketsync serve`` builds it: the settings' concurrency (default 16), and
    reconcile's rebuild for a store lost between runs over the same root."""
    return MirrorSink(clients.s3, root, concurrency=clients.settings.concurrency, rebuild=rebuild)


def bucketsync_full(clients: Clients, counter: RequestCounter, bucket: str, root: Path) -> Any:
    sink = mirror(clients, root)
    counter.reset()
    started = time.perf_counter()
    try:
        report = full_sync(sink, clients.s3, bucket)
    finally:
        sink.close()
    return time.perf_counter() - started, counter.snapshot(), report


def bucketsync_events(
    settings: Any, counter: RequestCounter, queue_url: str, root: Path, changed: dict[str, str]
) -> tuple[float, dict[str, int]]:
    """Drain the notifications until every changed key's new etag is in the mirror."""
    clients = Clients(settings, counter)
    sink = mirror(clients, root)
    engine = Engine(S3ObjectSource(clients.s3), [sink], ordering="auto")
    worker = Worker(engine, clients.sqs, queue_url, threads=4, wait_time_seconds=1)
    stop = threading.Event()
    counter.reset()
    started = time.perf_counter()
    thread = threading.Thread(target=worker.run, args=(stop,), name="bench-mirror-worker")
    thread.start()
    deadline = started + 120
    try:
        while time.perf_counter() < deadline:
            entries = {key: sink.store.get(key) for key in changed}
            if all(e is not None and e.etag == changed[k] for k, e in entries.items()):
                break
            time.sleep(0.01)
        else:
            raise RuntimeError("the event-driven mirror did not converge in 120 s")
        seconds = time.perf_counter() - started
    finally:
        stop.set()
        thread.join()
        engine.close()
    return seconds, counter.snapshot()


def full_syncs(
    emulator: Emulator, clients: Clients, counter: RequestCounter, bucket: str, work: Path
) -> None:
    print("1. full sync into an empty directory (each side twice, alternately)")
    full, rc_full = [], []
    for n in (1, 2):  # alternating, so a machine slowing down weighs on both sides
        before = process_cpu(emulator.pid)
        full.append(bucketsync_full(clients, counter, bucket, work / f"bs{n}"))
        seconds, requests, report = full[-1]
        print(
            f"  bucketsync full_sync #{n}: {seconds:7.2f} s  downloaded "
            f"{report.downloaded:,}, failed {report.failed}; requests {fmt(requests)}; "
            f"emulator CPU {process_cpu(emulator.pid) - before:.2f} s",
            flush=True,
        )
        before = process_cpu(emulator.pid)
        target = work / ("rclone" if n == 1 else f"rclone{n}")
        rc_full.append(rclone(emulator, bucket, target))
        seconds, requests = rc_full[-1]
        print(
            f"  rclone sync #{n}:        {seconds:7.2f} s  requests {fmt(requests)}; "
            f"emulator CPU {process_cpu(emulator.pid) - before:.2f} s",
            flush=True,
        )
    best = min(seconds for seconds, _, _ in full)
    rc_best = min(seconds for seconds, _ in rc_full)
    ratio = best / rc_best
    print(
        f"  bucketsync / rclone time, best of two each: {ratio:.2f}x "
        f"(target <= {TARGET_FULL:g}x: {'met' if ratio <= TARGET_FULL else 'NOT met'})"
    )


def check(s3: Any, bucket: str, root: Path) -> str:
    listed = dict(list_bucket(s3, bucket))
    files = {
        str(path.relative_to(root)): path.stat().st_size
        for path in root.rglob("*")
        if path.is_file() and ".bucketsync" not in path.relative_to(root).parts
    }
    ok = files == {key: size for key, (size, _) in listed.items()}
    return f"{len(files):,} files, {sum(files.values()) / MB:,.1f} MB: {'OK' if ok else 'WRONG'}"


def fmt(counts: dict[str, int]) -> str:
    return f"{sum(counts.values()):,} ({', '.join(f'{k} {v:,}' for k, v in counts.items())})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--changed-percent", type=float, default=1.0)
    args = parser.parse_args()
    if shutil.which("rclone") is None:
        raise SystemExit("rclone is not installed: apt-get install rclone (Debian's package)")
    rng = random.Random(5)
    objects = {
        f"data/d{n % 20:02d}/s{n % 7}/object-{n:05d}.bin": size
        for n, size in enumerate(sizes(args.objects, rng))
    }
    names = StackNames.named("bench-mirror")
    work = Path(tempfile.mkdtemp(prefix="bench-mirror-"))
    try:
        with Emulator() as emulator:
            settings = emulator_settings(emulator, table=names.table)
            setup = Clients(settings)
            stack = ensure_stack(setup, names)
            bucket = stack.bucket
            started = time.perf_counter()
            upload(setup.s3, bucket, objects, seed=1)
            total = sum(objects.values())
            print(
                f"uploaded {len(objects):,} objects, {total / MB:,.1f} MB, "
                f"in {time.perf_counter() - started:.0f} s (rclone: {_rclone_version()})",
                flush=True,
            )
            setup.sqs.purge_queue(QueueUrl=stack.queue_url)  # the uploads' notifications
            counter = RequestCounter()
            clients = Clients(settings, counter)

            full_syncs(emulator, clients, counter, bucket, work)

            count = max(1, round(len(objects) * args.changed_percent / 100))
            picked = rng.sample(sorted(objects), count)
            changed_sizes = {key: rng.randint(1 * KB, 256 * KB) for key in picked}
            upload(setup.s3, bucket, changed_sizes, seed=2)
            changed = {
                key: setup.s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
                for key in picked
            }
            print(f"2. {count} objects ({args.changed_percent:g}%) overwritten")
            ev_seconds, ev_requests = bucketsync_events(
                settings, counter, stack.queue_url, work / "bs1", changed
            )
            rescan_seconds, rescan_requests, rescan = bucketsync_full(
                clients, counter, bucket, work / "bs2"
            )
            rc_update, rc_update_requests = rclone(emulator, bucket, work / "rclone")
            print(f"  bucketsync, events:     {ev_seconds:7.2f} s  requests {fmt(ev_requests)}")
            print(
                f"  bucketsync, rescan:     {rescan_seconds:7.2f} s  downloaded "
                f"{rescan.downloaded}; requests {fmt(rescan_requests)}"
            )
            print(
                f"  rclone sync (rescan):   {rc_update:7.2f} s  requests {fmt(rc_update_requests)}"
            )
            speedup = rc_update / ev_seconds
            print(
                f"  rclone rescan / bucketsync events: {speedup:.1f}x (target >= "
                f"{TARGET_UPDATE:g}x: {'met' if speedup >= TARGET_UPDATE else 'NOT met'})"
            )
            for name in ("bs1", "bs2", "rclone"):
                print(f"  check {name}: {check(setup.s3, bucket, work / name)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _rclone_version() -> str:
    done = subprocess.run(["rclone", "version"], capture_output=True, text=True, check=False)
    return done.stdout.splitlines()[0] if done.stdout else "unknown"


if __name__ == "__main__":
    main()
