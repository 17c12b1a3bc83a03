"""Running the HTTP sync service for the integration tests: uvicorn on a loopback port.

Requests go through ``http.client``, which sends the path exactly as written: the traversal
tests need ``..`` and ``%2e`` to reach the server unnormalised, which higher-level clients
would clean up first.
"""

from __future__ import annotations

import copy
import http.client
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from tests.events import load_event

from bucketsync.aws.clients import Clients
from bucketsync.local.server_thread import serving
from bucketsync.local.stack import Stack
from bucketsync.settings import Settings
from bucketsync.signing import sign, target

TOKEN = "tok-3f9a2c7e51d84b06"
SECRET = "hmac-8d1e6b42a0c97f35"
LOOPBACK = "127.0.0.1"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """Requests to one service; paths are sent verbatim."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.base_url = f"http://{LOOPBACK}:{port}"

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Reply(
                response.status,
                {name.lower(): value for name, value in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()

    def get(
        self, path: str, headers: dict[str, str] | None = None, *, anonymous: bool = False
    ) -> Reply:
        """A GET carrying the harness's bearer token (reads need credentials when the service
        has them) unless ``anonymous``, or unless ``headers`` bring their own Authorization."""
        sent = dict(headers or {})
        if not anonymous and not any(name.lower() == "authorization" for name in sent):
            sent.update(BEARER)
        return self.request("GET", path, headers=sent)

    def post(self, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
        """A POST; a body goes as JSON (what the service accepts) unless ``headers`` say."""
        sent = dict(headers or {})
        if body and not any(name.lower() == "content-type" for name in sent):
            sent["Content-Type"] = "application/json"
        return self.request("POST", path, body=body, headers=sent)


@contextmanager
def running(app: FastAPI, *, root_path: str = "") -> Iterator[Http]:
    """``app`` served by uvicorn on a free loopback port, in a thread; stopped on exit.
    ``root_path``: as if behind a proxy that strips that prefix (uvicorn's ``--root-path``)."""
    with serving(app, LOOPBACK, 0, root_path=root_path) as port:
        yield Http(port)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def s3_event(bucket: str, key: str, *, sequencer: str, removed: bool = False) -> bytes:
    """The golden put (or delete) notification, for our bucket and key (URL-encoded as S3 does)."""
    event: Any = copy.deepcopy(load_event("s3_put" if not removed else "s3_delete"))
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    obj = record["s3"]["object"]
    obj["key"] = quote(key, safe="/").replace("%20", "+")
    obj["sequencer"] = sequencer
    obj.pop("versionId", None)
    return json.dumps(event).encode()


def signed(
    body: bytes,
    url: str,
    secret: str = SECRET,
    *,
    method: str = "POST",
    now: float | None = None,
) -> dict[str, str]:
    """The headers signing a ``method`` request of ``body`` to ``url`` (``/path?query``)."""
    path, query = target(url)
    return sign(secret, body, method=method, path=path, query=query, now=now)


def service_settings_for(settings: Settings, stack: Stack, tmp_path: Path) -> Settings:
    """The emulator's settings for a mirroring service of ``stack``'s bucket, with both a
    token and a secret, and no periodic sync (tests run their syncs themselves)."""
    return settings.override(
        bucket=stack.bucket,
        mirror_dir=str(tmp_path / "mirror"),
        catalog=False,
        periodic_sync=False,
        api_token=TOKEN,
        hmac_secret=SECRET,
    )


def put(clients: Clients, stack: Stack, key: str, body: bytes) -> None:
    clients.s3.put_object(Bucket=stack.bucket, Key=key, Body=body)


def download_path(key: str) -> str:
    return "/api/v1/download/" + quote(key, safe="/")


def mirror_one(api: Http, clients: Clients, stack: Stack, key: str, body: bytes) -> None:
    put(clients, stack, key, body)
    reply = api.post("/api/v1/s3-notification", s3_event(stack.bucket, key, sequencer="60"), BEARER)
    assert reply.status == 200, reply.body
