"""A fault-injecting HTTP proxy in front of the emulator: what the workers see as "AWS".

Every request a worker makes (S3, DynamoDB, SQS: moto serves all three on one port) goes
through here. The proxy tells the service from the SigV4 credential scope (the
``Authorization`` header, or ``X-Amz-Credential`` of a presigned URL) and the operation from
``X-Amz-Target`` (DynamoDB, SQS's JSON protocol), the form's ``Action`` (SQS's query
protocol) or the method (S3), then, drawing from its own seeded generator:

* answers about ``fault_rate`` of the requests itself with the error that service really
  sends when it throttles or fails, without forwarding them (the request never happened):

      S3         503 SlowDown, 500 InternalError                        (XML; HEAD: no body)
      DynamoDB   400 ProvisionedThroughputExceededException, 400 ThrottlingException,
                 500 InternalServerError                                 (JSON 1.0)
      SQS        400 RequestThrottled, 500 InternalError   (JSON with x-amzn-query-error,
                                                            or XML for the query protocol)

* makes a share (``ambiguous``) of the 5xx ones *ambiguous*: the request is forwarded and
  applied, and only its answer is replaced by the 5xx, as when a server fails after the
  commit or a connection drops on the way back. Never for ``ReceiveMessage``: a lost
  receive costs one receive count per message, which SQS's redrive policy turns into a
  dead letter by design; that is SQS's contract, not something bucketsync can change;
* during a *brownout* (``brownout(service, seconds)``) fails every request to that service;
* holds back ``slow_share`` of S3 ``HEAD`` answers (HeadObject) up to ``slow_max`` seconds
  after the emulator answered: the state they carry ages, so a write made from it is the
  stale write the ordering rule must refuse (a GC pause between lookup and write);
* counts what it did, and every message SQS handed to a worker (``ReceiveMessage``'s
  answers, parsed): deliveries as the consumers saw them, redeliveries after a kill included.

The test's own calls (the history, the relay, the checks) go to the emulator directly.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final
from urllib.parse import parse_qs, urlsplit

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
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([a-z0-9-]+)/aws4_request")
_QUERY_SCOPE = re.compile(r"^[^/]+/\d{8}/[^/]+/([a-z0-9-]+)/aws4_request$")


@dataclass(frozen=True)
class Fault:
    """One error answer: status, code, and whether the request is forwarded first."""

    service: str
    status: int
    code: str
    ambiguous: bool = False


# (status, code, weight) per service: throttling and 5xx as each service spells them.
_ERRORS: Final[dict[str, tuple[tuple[int, str, float], ...]]] = {
    "s3": ((503, "SlowDown", 0.6), (500, "InternalError", 0.4)),
    "dynamodb": (
        (400, "ProvisionedThroughputExceededException", 0.35),
        (400, "ThrottlingException", 0.35),
        (500, "InternalServerError", 0.3),
    ),
    "sqs": ((400, "RequestThrottled", 0.5), (500, "InternalError", 0.5)),
}
_MESSAGES: Final = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "ProvisionedThroughputExceededException": (
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API."
    ),
    "ThrottlingException": "Rate of requests exceeds the allowed throughput.",
    "InternalServerError": "Internal server error",
    "RequestThrottled": "Request is throttled.",
}
_DYNAMODB_TYPES: Final = {
    "ProvisionedThroughputExceededException": "com.amazonaws.dynamodb.v20120810#",
    "ThrottlingException": "com.amazon.coral.availability#",
    "InternalServerError": "com.amazonaws.dynamodb.v20120810#",
}
_NOT_AMBIGUOUS: Final = frozenset({"ReceiveMessage"})


def service_of(headers: Mapping[str, str], path: str) -> str:
    """The SigV4 service a request is signed for (``unknown`` if unsigned); ``headers`` by
    lower-case name."""
    match = _SCOPE.search(headers.get("authorization", ""))
    if match:
        return match.group(1)
    credential = parse_qs(urlsplit(path).query).get("X-Amz-Credential", [""])[0]
    match = _QUERY_SCOPE.match(credential)
    return match.group(1) if match else "unknown"


def operation_of(service: str, method: str, headers: Mapping[str, str], body: bytes) -> str:
    target = headers.get("x-amz-target")
    if target:
        return target.rsplit(".", 1)[-1]
    if service == "sqs":
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        return action or "unknown"
    return method


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
        self.fault_rate = fault_rate
        self.ambiguous = ambiguous
        self.slow_share = slow_share
        self.slow_max = slow_max
        self.stats = Stats()
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._brownouts: dict[str, float] = {}  # service -> monotonic end
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
        with self._rng_lock:
            self._brownouts[service] = time.monotonic() + seconds

    def decide(self, service: str, operation: str) -> tuple[Fault | None, float]:
        """The fault to answer with (None: forward), and how long to hold the answer."""
        errors = _ERRORS.get(service)
        with self._rng_lock:
            rng = self._rng
            hold = 0.0
            if service == "s3" and operation == "HEAD" and rng.random() < self.slow_share:
                hold = rng.uniform(0.05, self.slow_max)
            if errors is None:
                return None, hold
            down = self._brownouts.get(service, 0.0) > time.monotonic()
            if not down and rng.random() >= self.fault_rate:
                return None, hold
            status, code, _ = rng.choices(errors, weights=[w for *_, w in errors])[0]
            ambiguous = (
                status >= 500 and operation not in _NOT_AMBIGUOUS and rng.random() < self.ambiguous
            )
            return Fault(service, status, code, ambiguous), hold

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


def error_answer(fault: Fault, operation: str, json_protocol: bool) -> tuple[dict[str, str], bytes]:
    """Headers and body of ``fault`` as its service sends it."""
    request_id = uuid.uuid4().hex.upper()[:16]
    message = _MESSAGES[fault.code]
    if fault.service == "dynamodb":
        body = json.dumps(
            {"__type": _DYNAMODB_TYPES[fault.code] + fault.code, "message": message}
        ).encode()
        return {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id}, body
    if fault.service == "sqs":
        side = "Receiver" if fault.status >= 500 else "Sender"
        if json_protocol:
            text = json.dumps({"__type": f"com.amazonaws.sqs#{fault.code}", "message": message})
            return {
                "Content-Type": "application/x-amz-json-1.0",
                "x-amzn-RequestId": request_id,
                "x-amzn-query-error": f"{fault.code};{side}",
            }, text.encode()
        xml = (
            '<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/'
            f'2012-11-05/"><Error><Type>{side}</Type><Code>{fault.code}</Code><Message>'
            f"{message}</Message><Detail/></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        )
        return {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, xml.encode()
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{fault.code}</Code>'
        f"<Message>{message}</Message><RequestId>{request_id}</RequestId>"
        f"<HostId>chaos-proxy</HostId></Error>"
    )
    return {"Content-Type": "application/xml", "x-amz-request-id": request_id}, xml.encode()


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
