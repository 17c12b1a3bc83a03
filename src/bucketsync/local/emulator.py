"""The embedded emulator: moto in server mode, in a subprocess, over real HTTP on loopback.

    with Emulator() as emulator:
        settings = Settings(endpoint_url=emulator.endpoint_url, ...)
        ...

Everything goes over HTTP, exactly as against AWS: the same boto3 clients, retries and
serialisation. The server listens on 127.0.0.1 only, on a free port chosen at start, and is
given fake credentials only. moto keeps its state in memory and nothing worth flushing, so
``stop()`` sends SIGTERM, waits a short grace, then SIGKILLs, and always reaps the process.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from types import TracebackType
from typing import IO, Any, Final, Self

from pydantic import SecretStr

from bucketsync.errors import EmulatorError
from bucketsync.settings import Settings

LOOPBACK: Final = "127.0.0.1"
FAKE_ACCESS_KEY_ID: Final = "testing"
FAKE_SECRET_ACCESS_KEY: Final = "testing"
DEFAULT_REGION: Final = "us-east-1"
HEALTH_PATH: Final = "/moto-api/"
RESET_PATH: Final = "/moto-api/reset"

# Never handed to the server: whatever real credentials or profile the caller's shell has.
_REAL_AWS_VARIABLES: Final = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)
_PORT_ATTEMPTS: Final = 3
# moto's server, without werkzeug's line per request: writing those lines cost moto about a
# quarter of its CPU under load (a profile of a reconcile run), and nobody reads them.
_SERVER: Final = (
    "import logging, sys; logging.getLogger('werkzeug').setLevel(logging.WARNING); "
    "from moto.server import main; main(sys.argv[1:])"
)
_LOG_LINES: Final = 200


def free_port() -> int:
    """A port nothing listens on right now (the kernel's choice for a bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def _request(port: int, method: str, path: str, timeout: float) -> tuple[int, bytes]:
    """One HTTP request to the emulator; no proxies, no environment, nothing but loopback."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Emulator:
    """moto's server in a subprocess on a free loopback port; a context manager.

    ``start()`` returns once the server answers HTTP, or raises :class:`EmulatorError` with
    the server's own output when it exits early or never answers within
    ``startup_timeout`` seconds. ``stop()`` is idempotent and takes at most about
    ``stop_grace`` seconds plus the time to reap.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        startup_timeout: float = 30.0,
        stop_grace: float = 1.0,
    ) -> None:
        self._requested_port = port
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._log: collections.deque[str] = collections.deque(maxlen=_LOG_LINES)
        self._drain: threading.Thread | None = None

    # --- state

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def port(self) -> int:
        if self._port is None or self._process is None:
            raise EmulatorError("the emulator is not running")
        return self._port

    @property
    def pid(self) -> int:
        if self._process is None:
            raise EmulatorError("the emulator is not running")
        return self._process.pid

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def output(self) -> str:
        """The last lines the server wrote (stdout and stderr), for diagnostics."""
        return "".join(self._log)

    # --- lifecycle

    def start(self) -> Self:
        if self._process is not None:
            raise EmulatorError(f"the emulator is already running on {self.endpoint_url}")
        attempts = 1 if self._requested_port is not None else _PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            port = self._requested_port or free_port()
            self._spawn(port)
            try:
                self._wait_until_ready()
            except _PortTaken:
                # Another process took the port between our probe and moto's bind: retry.
                self.stop()
                if attempt == attempts:
                    raise EmulatorError(
                        f"moto server could not bind a port after {attempts} attempts:\n"
                        f"{self.output()}"
                    ) from None
                continue
            except BaseException:
                self.stop()
                raise
            atexit.register(self.stop)
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """SIGTERM, ``stop_grace`` seconds, SIGKILL; always reaps. Safe to call twice."""
        process, self._process, self._port = self._process, None, None
        atexit.unregister(self.stop)
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
        if self._drain is not None:
            self._drain.join(timeout=5)
            self._drain = None
        if process.stdout is not None:
            process.stdout.close()

    def reset(self) -> None:
        """Forget every resource in every service (POST /moto-api/reset)."""
        status, body = _request(self.port, "POST", RESET_PATH, timeout=10)
        if status != 200:
            raise EmulatorError(f"reset answered {status}: {body[:200]!r}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{LOOPBACK}:{self._port}" if self.running else "stopped"
        return f"Emulator({where})"

    # --- internals

    def _spawn(self, port: int) -> None:
        environment = {k: v for k, v in os.environ.items() if k not in _REAL_AWS_VARIABLES}
        environment.update(
            AWS_ACCESS_KEY_ID=FAKE_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=FAKE_SECRET_ACCESS_KEY,
            AWS_DEFAULT_REGION=environment.get("AWS_DEFAULT_REGION", DEFAULT_REGION),
            MOTO_PORT=str(port),
        )
        self._log.clear()
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, "-H", LOOPBACK, "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=environment,
            close_fds=True,
            # Its own session: a terminal's Ctrl-C reaches bucketsync, which drains its
            # in-flight batches and only then stops the emulator (in stop()).
            start_new_session=True,
        )
        self._port = port
        # An unread pipe would fill up and block the server: its output is drained.
        assert self._process.stdout is not None
        self._drain = threading.Thread(
            target=_drain,
            args=(self._process.stdout, self._log),
            name=f"moto-server-{port}-output",
            daemon=True,
        )
        self._drain.start()

    def _wait_until_ready(self) -> None:
        assert self._process is not None and self._port is not None
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.02
        while True:
            if self._process.poll() is not None:
                if self._drain is not None:
                    self._drain.join(timeout=5)
                output = self.output()
                if "Address already in use" in output:
                    raise _PortTaken
                raise EmulatorError(
                    f"moto server exited with status {self._process.returncode} before "
                    f"answering on port {self._port}:\n{output}"
                )
            try:
                status, _ = _request(self._port, "GET", HEALTH_PATH, timeout=1.0)
            except OSError:
                pass
            else:
                if status == 200:
                    return
            if time.monotonic() > deadline:
                raise EmulatorError(
                    f"moto server did not answer on {self.endpoint_url} within "
                    f"{self.startup_timeout:.0f}s:\n{self.output()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


class _PortTaken(Exception):
    pass


def _drain(stream: IO[bytes], log: collections.deque[str]) -> None:
    for line in iter(stream.readline, b""):
        log.append(line.decode("utf-8", "replace"))


def settings_for(emulator: Emulator, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Environment variables that point bucketsync (and plain boto3) at the emulator.

    Fake credentials only; apply with ``os.environ.update`` or a subprocess's ``env``.
    """
    return {
        "BUCKETSYNC_ENDPOINT_URL": emulator.endpoint_url,
        "BUCKETSYNC_REGION": region,
        "BUCKETSYNC_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
        "BUCKETSYNC_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
        "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": region,
    }


def emulator_settings(emulator: Emulator, **overrides: Any) -> Settings:
    """A ``Settings`` aimed at the emulator, with its fake credentials and short long polls."""
    base = Settings(
        endpoint_url=emulator.endpoint_url,
        region=DEFAULT_REGION,
        access_key_id=SecretStr(FAKE_ACCESS_KEY_ID),
        secret_access_key=SecretStr(FAKE_SECRET_ACCESS_KEY),
        wait_time_seconds=1,  # a stopping worker returns within a second
    )
    return base.override(**overrides)
