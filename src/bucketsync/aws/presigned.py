"""GetObject by a presigned URL on the client's own connection pool: the bytes without the toll.

Why: a mirror makes one GetObject per object, and botocore's ``get_object`` spends ~3.7 ms
of CPU on each on a small machine (event hooks, rebuilding the user-agent string, parsing every
response header, dateutil for Last-Modified) where presigning and sending take ~2.9 ms. On one
interpreter that CPU, not the network, bounds a full sync (``bench/RESULTS.md``, section 6).
So the request is presigned by the same client (SigV4, every header it carries signed) and
sent on that client's own urllib3 pool, with its proxies, CA bundle and timeouts.

Only a 200 is read here. Any other status, and any transport error, is asked again through
``get_object``, so botocore's retries, redirects and error parsing still decide everything
that is not the common case: the fast path can make a request fail only where ``get_object``
would fail too. What stays as with ``get_object``:

* the client's ``before-send`` hooks see the request (request counters, stubs that answer it);
* S3's additional checksums are checked as the body is read, by botocore's own
  ``handle_checksum_body`` (a mismatch raises ``FlexibleChecksumError`` at the end).

``get`` raises what ``get_object`` raises; ``open`` and ``read_chunk`` are the same calls with
botocore's errors translated (``aws.errors``), for callers that see only bucketsync's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError
from botocore.hooks import first_non_none_response
from botocore.httpchecksum import handle_checksum_body, resolve_response_checksum_algorithms
from botocore.response import StreamingBody

from bucketsync.aws.errors import is_gone, translate
from bucketsync.errors import RetryableError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

URL_SECONDS = 300  # the URL is used at once; a short life limits what a leaked one is worth
_SIGNER_HOOK = "bucketsync-presigned-getobject-sigv4"


@dataclass(frozen=True, slots=True)
class Got:
    """What a GetObject answered, the same from either path."""

    body: StreamingBody
    length: int | None
    etag: str | None  # without quotes
    last_modified: datetime | None
    encryption: str | None  # x-amz-server-side-encryption
    customer_key: bool  # SSE-C: the etag is no MD5 then
    checksums: tuple[str, ...]  # the full-object checksums S3 sent, checked as the body is read

    @classmethod
    def from_answer(cls, answer: Any, algorithms: Sequence[str]) -> Got:
        """From ``get_object``'s parsed answer; ``algorithms``: those botocore checked (none
        without ``ChecksumMode``)."""
        return cls(
            body=answer["Body"],
            length=answer.get("ContentLength"),
            etag=str(answer.get("ETag", "")).strip('"') or None,
            last_modified=answer.get("LastModified"),
            encryption=answer.get("ServerSideEncryption"),
            customer_key=bool(answer.get("SSECustomerAlgorithm")),
            checksums=_checked(algorithms, lambda name: answer.get(f"Checksum{name.upper()}")),
        )


class ObjectGetter:
    """``get`` is ``get_object`` by a presigned URL, falling back to ``get_object`` itself."""

    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3
        self._events = s3.meta.events
        self._operation = s3.meta.service_model.operation_model("GetObject")
        request: dict[str, Any] = {"context": {}}
        resolve_response_checksum_algorithms(request, self._operation, {"ChecksumMode": "ENABLED"})
        # The algorithms this botocore can check, most preferred first (CRC32C and CRC64NVME
        # need awscrt): the same list get_object would use.
        self.algorithms: list[str] = request["context"]["checksum"]["response_algorithms"]
        # botocore presigns S3 with SigV2 unless a client names its signature version; SigV2
        # cannot sign the If-Match and checksum-mode headers, and newer regions refuse it.
        self._events.register(
            "choose-signer.s3.GetObject",
            _keep_sigv4,  # type: ignore[arg-type]  # the stubs say handlers return None
            unique_id=_SIGNER_HOOK,
        )
        # No public accessor: the pool get_object itself would use.
        endpoint = getattr(s3, "_endpoint", None)
        self._http: Any = getattr(endpoint, "http_session", None)
        if self._http is None:
            log.warning("this botocore client has no http_session: GETs go by get_object")

    def get(
        self,
        bucket: str,
        key: str,
        *,
        if_match: str | None = None,
        version_id: str | None = None,
        checksum: bool = True,
    ) -> Got:
        """The object's body and headers; raises what ``get_object`` raises (ClientError...)."""
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        headers: dict[str, str] = {}
        if checksum:
            params["ChecksumMode"] = "ENABLED"
            headers["x-amz-checksum-mode"] = "ENABLED"
        if if_match:
            params["IfMatch"] = headers["If-Match"] = if_match
        if version_id:
            params["VersionId"] = version_id
        if self._http is None:
            return self._slow(params)
        try:
            url = self._s3.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=URL_SECONDS
            )
        except BotoCoreError:  # no credentials, say: get_object raises it in its own words
            return self._slow(params)
        request = AWSRequest("GET", url, headers=headers, stream_output=True).prepare()
        answered = first_non_none_response(
            self._events.emit("before-send.s3.GetObject", request=request)
        )
        try:
            response: AWSResponse = answered or self._http.send(request)
        except (ConnectionError, HTTPClientError) as exc:  # refused, reset, timed out: retried
            # the type only: botocore's message quotes the URL, signature and all
            log.debug("s3://%s/%s: presigned GET: %s; asking get_object", bucket, key, type(exc))
            return self._slow(params)
        if response.status_code != 200:
            _discard(response)
            return self._slow(params)
        return self._got(response, checksum)

    def open(
        self,
        bucket: str,
        key: str,
        *,
        if_match: str | None = None,
        version_id: str | None = None,
        checksum: bool = True,
    ) -> Got | None:
        """``get``, botocore's errors translated; None when the version asked for (by
        ``if_match`` or ``version_id``) is gone (``aws.errors.is_gone``)."""
        try:
            return self.get(
                bucket, key, if_match=if_match, version_id=version_id, checksum=checksum
            )
        except ClientError as exc:
            if is_gone(exc):
                return None
            raise translate(exc, f"GetObject s3://{bucket}/{key}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"GetObject s3://{bucket}/{key}") from exc

    def _slow(self, params: dict[str, Any]) -> Got:
        algorithms = self.algorithms if "ChecksumMode" in params else []
        return Got.from_answer(self._s3.get_object(**params), algorithms)

    def _got(self, response: AWSResponse, checksum: bool) -> Got:
        headers = response.headers
        parsed: dict[str, Any] = {"headers": headers, "body": None, "context": {}}
        algorithms = self.algorithms if checksum else []
        handle_checksum_body(  # botocore passes the AWSResponse too; the stubs say otherwise
            cast(Any, response),
            parsed,
            {"checksum": {"response_algorithms": algorithms}},
            self._operation,
        )
        header = headers.get("content-length")
        length = int(header) if header is not None else None
        # No length (a chunked answer): StreamingBody then cannot check it, and fetch will.
        body = parsed["body"] or StreamingBody(response.raw, cast(int, length))
        return Got(
            body=body,
            length=length,
            etag=str(headers.get("etag", "")).strip('"') or None,
            last_modified=_http_date(headers.get("last-modified")),
            encryption=headers.get("x-amz-server-side-encryption"),
            customer_key=bool(headers.get("x-amz-server-side-encryption-customer-algorithm")),
            checksums=_checked(algorithms, lambda name: headers.get(f"x-amz-checksum-{name}")),
        )


def read_chunk(body: Any, size: int, where: str) -> bytes:
    """Up to ``size`` bytes of a body ``get`` returned (b"" at its end). botocore's failures
    while it streams (``FlexibleChecksumError``: bytes that do not match S3's checksum; read
    timeouts; cut connections) are ``RetryableError``: the same GET may well succeed next time.
    Anything else (an ``OSError``...) is the caller's to map."""
    try:
        chunk: bytes = body.read(size)
    except BotoCoreError as exc:
        raise RetryableError(f"{where}: {exc}") from exc
    return chunk


def _checked(algorithms: Sequence[str], value: Callable[[str], Any]) -> tuple[str, ...]:
    """Of ``algorithms`` (botocore's names), those S3 sent a full-object value for, named as
    S3 names them: what botocore checks. A composite ``<base64>-<parts>`` cannot be."""
    return tuple(name.upper() for name in algorithms if "-" not in str(value(name) or "-"))


def _keep_sigv4(signature_version: str, **_: Any) -> str | None:
    """Keep a presigned GetObject on the client's SigV4 instead of botocore's SigV2 default."""
    if signature_version.endswith("-query") and "v4" in signature_version:
        return signature_version
    return None


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _discard(response: AWSResponse) -> None:
    close = getattr(response.raw, "close", None)
    if close is not None:
        close()
