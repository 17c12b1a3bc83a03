"""A scripted HTTP server on loopback: it answers with the statuses it is given and records
what it got (the ``service`` and ``elsewhere`` fixtures of ``conftest.py`` run it)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Script:
    """The statuses the server answers with, in order (the last one repeats), and what it got."""

    def __init__(self) -> None:
        self.statuses: list[int] = [200]
        self.delay = 0.0
        self.delays: list[float] = []  # per request, before self.delay applies
        self.location = ""  # the Location header of a 3xx
        self.answer = b"{}"
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.methods: list[str] = []


@contextmanager
def serving(script: Script) -> Iterator[str]:
    """A loopback HTTP server answering every method as ``script`` says; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            script.methods.append(self.command)
            script.requests.append((self.path, dict(self.headers), body))
            delay = script.delays.pop(0) if script.delays else script.delay
            if delay:
                threading.Event().wait(delay)
            status = script.statuses.pop(0) if len(script.statuses) > 1 else script.statuses[0]
            self.send_response(status)
            if script.location:
                self.send_header("Location", script.location)
            if status == 204:
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(script.answer)))
            self.end_headers()
            # A client that gave up waiting has closed its end: nothing to answer.
            with contextlib.suppress(ConnectionError):
                self.wfile.write(script.answer)

        do_POST = do_GET = do_PUT = do_HEAD = _answer

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
