"""The faults of the chaos suite's proxy (``proxy.py``): what it answers instead of the
emulator, and when.

A request is told apart by its service, from the SigV4 credential scope (the ``Authorization``
header, or ``X-Amz-Credential`` of a presigned URL: ``service_of``), and by its operation, from
``X-Amz-Target`` (DynamoDB, SQS's JSON protocol), the form's ``Action`` (SQS's query protocol)
or the method (S3: ``operation_of``). Then ``Decisions``, drawing from its own seeded generator:

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

``error_answer`` spells each error as its service sends it.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, urlsplit

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


class Decisions:
    """Which request gets a fault, and which S3 ``HEAD`` answer is held back, drawn from a
    generator seeded with the run's seed (all draws under one lock)."""

    def __init__(
        self,
        seed: int | str,
        *,
        fault_rate: float,
        ambiguous: float,
        slow_share: float,
        slow_max: float,
    ) -> None:
        self.fault_rate = fault_rate
        self.ambiguous = ambiguous
        self.slow_share = slow_share
        self.slow_max = slow_max
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._brownouts: dict[str, float] = {}  # service -> monotonic end

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
