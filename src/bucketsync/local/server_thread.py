"""The sync service on a background thread, for ``local up --serve`` and the demo; and the
listening socket ``bucketsync serve`` and it both bind before the service starts."""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from bucketsync.errors import ConfigurationError

STARTUP_SECONDS = 30.0
STOP_SECONDS = 30.0
PORT_HINT = "choose another with BUCKETSYNC_API_PORT (0: any free port)"
_REASONS = {
    errno.EADDRINUSE: "the port is in use",
    errno.EADDRNOTAVAIL: "the address is not one of this machine's",
    errno.EACCES: "ports below 1024 need privileges",
}


def listening_socket(host: str, port: int, *, hint: str = PORT_HINT) -> socket.socket:
    """A socket bound to ``host:port``, for uvicorn to serve on.

    Bound here, before the app starts: uvicorn runs the app's startup (the first full sync)
    before it binds, so a port in use was found out only after the mirror had been filled.
    A failure is one ``ConfigurationError`` naming the address, the reason and ``hint``.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ConfigurationError(f"cannot listen on {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a port left in TIME_WAIT by the last run is free to bind again.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        reason = _REASONS.get(exc.errno or 0, exc.strerror or str(exc))
        raise ConfigurationError(f"cannot listen on {host}:{port}: {reason}; {hint}") from None
    return sock


@contextmanager
def serving(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, *, root_path: str = ""
) -> Iterator[int]:
    """Run ``app`` on uvicorn in a thread; yields the port it listens on (port 0: a free one).
    ``root_path``: the prefix a proxy in front strips (uvicorn's ``--root-path``). On exit the
    server drains and its thread is joined."""
    sock = listening_socket(host, port)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=host, port=port, root_path=root_path, log_config=None, access_log=False
        )
    )
    # uvicorn installs signal handlers only on the main thread; here the caller owns them.
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="bucketsync-service", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(5)
                raise RuntimeError(f"the service did not start on {host}:{port}")
            time.sleep(0.02)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(STOP_SECONDS)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"the service did not stop within {STOP_SECONDS:g} s")
