"""``bucketsync local up`` as a person runs it: what it prints, and its line of progress.

It starts its own emulator (not the session's), so the test reads the endpoint from the
``export`` lines it prints, as a person in another shell would.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bucketsync.aws.clients import Clients
from bucketsync.settings import Settings

SCRIPT = Path(sys.executable).parent / "bucketsync"
EXPORT = re.compile(r"^export (BUCKETSYNC_\w+)=(.*)$")
PROCESSED = re.compile(r"processed messages: (\d+) received, (\d+) applied, (\d+) failed")


class Running:
    """The process, and its stdout lines as they come (read on a thread)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        pytest.fail(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))


@pytest.fixture
def local_up(tmp_path: Path) -> Iterator[Running]:
    if not SCRIPT.exists():
        pytest.skip(f"no bucketsync console script next to {sys.executable}")
    process = subprocess.Popen(
        [str(SCRIPT), "local", "up", "--serve", "--mirror-dir", "mirror", "--prefix", "bs-up"],
        cwd=tmp_path,
        env={**os.environ, "BUCKETSYNC_API_PORT": "0", "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield Running(process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_local_up_prints_every_variable_and_a_line_of_what_it_processed(
    local_up: Running, tmp_path: Path
) -> None:
    # WHEN local up has started
    local_up.until(r"^sync service ")
    exported: dict[str, str] = {}
    for line in local_up.lines:
        if found := EXPORT.match(line):
            exported[found.group(1)] = found.group(2)
    # THEN it exported every variable a person needs, the bucket and the mirror among them
    mirror = tmp_path / "mirror"
    assert exported["BUCKETSYNC_BUCKET"] == "bs-up"
    assert exported["BUCKETSYNC_MIRROR_DIR"] == str(mirror.resolve())
    for name in ("ENDPOINT_URL", "TABLE", "QUEUE_URL", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY"):
        assert f"BUCKETSYNC_{name}" in exported, name
    # WHEN an object is uploaded with what it exported
    s3 = Clients(
        Settings(
            endpoint_url=exported["BUCKETSYNC_ENDPOINT_URL"],
            region=exported["BUCKETSYNC_REGION"],
            access_key_id=SecretStr(exported["BUCKETSYNC_ACCESS_KEY_ID"]),
            secret_access_key=SecretStr(exported["BUCKETSYNC_SECRET_ACCESS_KEY"]),
        )
    ).s3
    s3.put_object(Bucket="bs-up", Key="hello.txt", Body=b"hello")
    # THEN a line says what it processed (the queue's s3:TestEvent, then the upload), and the
    # object is mirrored by then
    while int(local_up.until(PROCESSED.pattern).group(2)) < 2:
        pass
    assert (mirror / "hello.txt").read_bytes() == b"hello"
    # AND Ctrl-C stops it, saying what it applied in all
    local_up.process.send_signal(signal.SIGINT)
    local_up.until(r"^stopped: applied \d+ messages")
    assert local_up.process.wait(timeout=30) == 0
