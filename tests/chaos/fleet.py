"""``bucketsync worker`` processes: started with their BUCKETSYNC_* environment, SIGKILLed at
random moments, restarted; and restarted too (counted as a crash) if one exits on its own.

Each worker's output goes to its own log file (all its incarnations, appended), read back for
the summary (pauses, resumes) and shown when the run fails.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# The CLI's entry point, run by this interpreter (so the venv's bucketsync, whatever PATH says).
_CLI = "import sys; from bucketsync.cli import main; sys.argv[0] = 'bucketsync'; main()"
STOP_GRACE_SECONDS = 20.0


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-c", _CLI, *args]


def clean_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without BUCKETSYNC_* or endpoint overrides, plus ``settings``."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BUCKETSYNC_", "AWS_ENDPOINT_URL"))
    }
    environment.update(settings)
    # Mutation checks: the workers import bucketsync from another tree (docs/chaos.md).
    other = os.environ.get("CHAOS_WORKER_PYTHONPATH")
    if other:
        environment["PYTHONPATH"] = other
    environment["NO_PROXY"] = "127.0.0.1,localhost"
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


@dataclass
class WorkerSpec:
    name: str
    group: str
    environment: dict[str, str]


@dataclass
class _Running:
    spec: WorkerSpec
    log: Path
    process: subprocess.Popen[bytes] | None = None
    output: IO[bytes] | None = None
    incarnations: int = 0


@dataclass
class FleetStats:
    kills: int = 0
    killed: Counter[str] = field(default_factory=Counter)  # per group
    crashes: int = 0  # exits nobody asked for
    crash_codes: list[int] = field(default_factory=list)
    restarts: int = 0


class Fleet:
    def __init__(self, specs: Sequence[WorkerSpec], log_dir: Path, seed: int | str) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self._workers = [_Running(spec, log_dir / f"{spec.name}.log") for spec in specs]
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stop_killing = threading.Event()
        self._stopping = False
        self._killer: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        self.stats = FleetStats()

    # --- lifecycle

    def __enter__(self) -> Fleet:
        with self._lock:
            for worker in self._workers:
                self._start(worker)
        self._watcher = threading.Thread(target=self._watch, name="chaos-fleet-watch", daemon=True)
        self._watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self, worker: _Running) -> None:
        """Under the lock."""
        if worker.output is None:
            worker.output = worker.log.open("ab")
        worker.incarnations += 1
        worker.output.write(f"--- incarnation {worker.incarnations} ---\n".encode())
        worker.output.flush()
        worker.process = subprocess.Popen(
            cli_command("worker"),
            stdin=subprocess.DEVNULL,
            stdout=worker.output,
            stderr=subprocess.STDOUT,
            env=worker.spec.environment,
            close_fds=True,
        )

    def stop(self) -> None:
        """SIGTERM every worker (they finish in-flight batches), SIGKILL after a grace."""
        self.stop_killing()
        with self._lock:
            self._stopping = True
            processes = [w.process for w in self._workers if w.process is not None]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        for worker in self._workers:
            if worker.output is not None:
                worker.output.close()
                worker.output = None

    # --- chaos

    def kill_randomly(
        self,
        every: tuple[float, float],
        downtime: tuple[float, float],
        groups: Sequence[str] = (),
    ) -> None:
        """From now on, every ``every`` seconds (uniform), SIGKILL one worker chosen at random
        (among those of ``groups``; none named: all) and start it again after ``downtime``
        seconds; until ``stop_killing``."""
        targets = [w for w in self._workers if not groups or w.spec.group in groups]
        self._killer = threading.Thread(
            target=self._kill_loop,
            args=(targets, every, downtime),
            name="chaos-killer",
            daemon=True,
        )
        self._killer.start()

    def stop_killing(self) -> None:
        self._stop_killing.set()
        if self._killer is not None:
            self._killer.join(timeout=30)
            self._killer = None

    def _kill_loop(
        self, targets: list[_Running], every: tuple[float, float], downtime: tuple[float, float]
    ) -> None:
        while targets and not self._stop_killing.wait(self._rng.uniform(*every)):
            with self._lock:
                worker = self._rng.choice(targets)
                pause = self._rng.uniform(*downtime)
                process = worker.process
                if process is None or process.poll() is not None:
                    continue
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                worker.process = None
                self.stats.kills += 1
                self.stats.killed[worker.spec.group] += 1
            if self._stop_killing.wait(pause):
                pass  # restart anyway: a killed worker must come back before the drain
            with self._lock:
                if not self._stopping:
                    self._start(worker)
                    self.stats.restarts += 1

    def _watch(self) -> None:
        """Restart a worker that exited on its own (after a second), counting the crash."""
        while True:
            time.sleep(0.5)
            with self._lock:
                if self._stopping:
                    return
                for worker in self._workers:
                    process = worker.process
                    if process is not None and process.poll() is not None:
                        self.stats.crashes += 1
                        self.stats.crash_codes.append(process.returncode)
                        worker.process = None
                        self._start(worker)
                        self.stats.restarts += 1

    # --- reading back

    def logs(self) -> dict[str, str]:
        texts = {}
        for worker in self._workers:
            with contextlib.suppress(OSError):
                texts[worker.spec.name] = worker.log.read_text(errors="replace")
        return texts

    def log_counts(self, *needles: str) -> dict[str, int]:
        """How many lines of all the logs contain each needle."""
        counts = dict.fromkeys(needles, 0)
        for text in self.logs().values():
            for line in text.splitlines():
                for needle in needles:
                    if needle in line:
                        counts[needle] += 1
        return counts

    def tails(self, lines: int = 40) -> str:
        parts = []
        for name, text in self.logs().items():
            tail = "\n".join(text.splitlines()[-lines:])
            parts.append(f"--- {name} (last {lines} lines) ---\n{tail}")
        return "\n".join(parts)
