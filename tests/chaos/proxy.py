"""A fault-injecting HTTP proxy in front of the emulator: what the workers see as "AWS".

Every request a worker makes (S3, DynamoDB, SQS: moto serves all three on one port) goes
through here. The proxy tells its service and operation apart, and asks its decisions whether
to answer it with that service's error itself (the request never happened), to forward it and
answer with the error all the same (it was applied: *ambiguous*), or to hold its answer back;
``faults.py`` says which faults, and how they are drawn from the seed. It forwards the rest on
keep-alive connections, and counts what it did, and every message SQS handed to a worker
(``ReceiveMessage``'s answers, parsed): deliveries as the consumers saw them, redeliveries after
a kill included.

The test's own calls (the history, the relay, the checks) go to the emulator directly.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

from tests.chaos.faults import Decisions, Fault, error_answer, operation_of, service_of

LOOPBACK: Final = "127.0.0.1"
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "content-length",
        "expect",
    }
)


class Stats:
    """What the proxy did, for the run's summary (all counters under one lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()  # per service
        self.faults: Counter[str] = Counter()  # "service code" (+ " ambiguous")
        self.slowed = 0
        self.received = 0  # messages SQS handed to consumers (ReceiveMessage answers)

    def count(self, service: str, fault: Fault | None = None) -> None:
        with self._lock:
            self.requests[service] += 1
            if fault is not None:
                kind = f"{service} {fault.code}" + (" (ambiguous)" if fault.ambiguous else "")
                self.faults[kind] += 1

    def add(self, *, slowed: int = 0, received: int = 0) -> None:
        with self._lock:
            self.slowed += slowed
            self.received += received

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(self.requests.values())

    @property
    def total_faults(self) -> int:
        with self._lock:
            return sum(self.faults.values())

    def summary(self) -> str:
        with self._lock:
            total = sum(self.requests.values())
            faults = sum(self.faults.values())
            share = faults / total if total else 0.0
            kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.faults.items()))
            return (
                f"{faults} of {total} AWS calls failed on purpose ({share:.1%}): {kinds}; "
                f"{self.slowed} HeadObject answers held back"
            )


class FaultProxy:
    """The proxy's server on a free loopback port; a context manager."""

    def __init__(
        self,
        upstream_port: int,
        seed: int | str,
        *,
        fault_rate: float = 0.1,
        ambiguous: float = 0.0,
        slow_share: float = 0.1,
        slow_max: float = 0.6,
    ) -> None:
        self.upstream_port = upstream_port
        self.stats = Stats()
        self.decisions = Decisions(
            seed,
            fault_rate=fault_rate,
            ambiguous=ambiguous,
            slow_share=slow_share,
            slow_max=slow_max,
        )
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._local = threading.local()

    # --- lifecycle

    @property
    def port(self) -> int:
        assert self._server is not None, "the proxy is not running"
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> FaultProxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        server = _Server((LOOPBACK, 0), Handler)
        server.daemon_threads = True
        server.request_queue_size = 128
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="chaos-proxy"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- decisions

    def brownout(self, service: str, seconds: float) -> None:
        """Every request to ``service`` fails for the next ``seconds``."""
        self.decisions.brownout(service, seconds)

    def decide(self, service: str, operation: str) -> tuple[Fault | None, float]:
        """The fault to answer with (None: forward), and how long to hold the answer: the
        decisions' draw (a test may override this)."""
        return self.decisions.decide(service, operation)

    # --- upstream

    def upstream(self) -> http.client.HTTPConnection:
        """This thread's keep-alive connection to the emulator."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(LOOPBACK, self.upstream_port, timeout=60)
            self._local.connection = connection
        return connection

    def drop_upstream(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client killed mid-request (SIGKILL) resets its connections: expected


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's pools expect

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would cost more than the proxying

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        proxy = self.owner
        body = self._body()
        lower = {name.lower(): value for name, value in self.headers.items()}
        service = service_of(lower, self.path)
        operation = operation_of(service, self.command, lower, body)
        fault, hold = proxy.decide(service, operation)
        proxy.stats.count(service, fault)
        json_protocol = "json" in self.headers.get("Content-Type", "")
        if fault is not None and not fault.ambiguous:
            self._answer_fault(fault, operation, json_protocol)
            return
        status, reason, headers, answer = self._forward(body)
        if fault is not None:  # applied upstream; the client is told it failed
            self._answer_fault(fault, operation, json_protocol)
            return
        if service == "sqs" and operation == "ReceiveMessage" and status == 200:
            proxy.stats.add(received=_messages_in(answer, json_protocol))
        if hold:
            proxy.stats.add(slowed=1)
            time.sleep(hold)
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        if self.command == "HEAD":  # the object's length, of a body not sent
            length = dict((k.lower(), v) for k, v in headers).get("content-length", "0")
            self.send_header("Content-Length", length)
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        proxy = self.owner
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):
            connection = proxy.upstream()
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                return response.status, response.reason, response.getheaders(), data
            except (http.client.HTTPException, OSError):
                # A keep-alive connection the emulator closed: once more on a fresh one.
                proxy.drop_upstream()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _answer_fault(self, fault: Fault, operation: str, json_protocol: bool) -> None:
        headers, body = error_answer(fault, operation, json_protocol)
        self.send_response(fault.status)
        for name, value in headers.items():
            self.send_header(name, value)
        if self.command == "HEAD":
            body = b""
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _messages_in(answer: bytes, json_protocol: bool) -> int:
    if json_protocol:
        try:
            return len(json.loads(answer).get("Messages", []))
        except ValueError:
            return 0
    return answer.count(b"<Message>")
