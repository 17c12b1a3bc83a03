"""The sync service on a background thread, for ``local up --serve`` and the demo."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

STARTUP_SECONDS = 30.0
STOP_SECONDS = 30.0


@contextmanager
def serving(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, *, root_path: str = ""
) -> Iterator[int]:
    """Run ``app`` on uvicorn in a thread; yields the port it listens on (port 0: a free one).
    ``root_path``: the prefix a proxy in front strips (uvicorn's ``--root-path``). On exit the
    server drains and its thread is joined."""
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=host, port=port, root_path=root_path, log_config=None, access_log=False
        )
    )
    # uvicorn installs signal handlers only on the main thread; here the caller owns them.
    thread = threading.Thread(target=server.run, name="bucketsync-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            raise RuntimeError(f"the service did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(STOP_SECONDS)
        if thread.is_alive():
            raise RuntimeError(f"the service did not stop within {STOP_SECONDS:g} s")
