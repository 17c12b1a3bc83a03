"""What the service logs: never a credential, never an object's contents (docs/security.md).

The service runs with a token and a secret, and every path that logs is driven once: refused
credentials, a malformed body, a notification applied, a full sync, a download, a failing S3.
Every record any logger emitted meanwhile (the service's, uvicorn's, botocore's) is searched
for the token, the secret and the bytes of the objects.
"""

from __future__ import annotations

import logging

import pytest
from tests.integration.service_harness import (
    BEARER,
    LOOPBACK,
    SECRET,
    TOKEN,
    Http,
    mirror_one,
    running,
    s3_event,
    signed,
)

from bucketsync.api import create_app
from bucketsync.aws.clients import Clients
from bucketsync.local.emulator import free_port
from bucketsync.local.stack import Stack
from bucketsync.settings import Settings

CONTENTS = b"OBJECT-CONTENTS-7c1e9a"
BODY_MARK = "BODY-CONTENTS-52d0f3"


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record, formatted as a handler would (message, arguments and traceback)."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


def test_logs_hold_no_credential_and_no_object_contents(
    api: Http,
    clients: Clients,
    stack: Stack,
    service_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # GIVEN credentials refused, a malformed body, an object mirrored, synced and downloaded
    body = s3_event(stack.bucket, "x.txt", sequencer="40")
    assert (
        api.post("/api/v1/s3-notification", body, {"Authorization": "Bearer " + TOKEN + "x"}).status
        == 403
    )
    forged = signed(body, "/api/v1/s3-notification", SECRET + "x")
    assert api.post("/api/v1/s3-notification", body, forged).status == 403
    malformed = ('{"Records": [{"s3": "' + BODY_MARK + '"}]}').encode()
    assert api.post("/api/v1/s3-notification", malformed, BEARER).status == 400
    mirror_one(api, clients, stack, "doc.txt", CONTENTS)
    assert api.post("/api/v1/sync", headers=BEARER).status == 200
    assert api.get("/api/v1/download/doc.txt").body == CONTENTS
    assert api.get("/api/v1/config").status == 200
    # AND the same service with S3 gone, so that its failures are logged too
    dead = service_settings.override(
        endpoint_url=f"http://{LOOPBACK}:{free_port()}", max_attempts=1
    )
    with running(create_app(dead)) as failing:
        assert failing.post("/api/v1/sync", headers=BEARER).status == 503
        assert failing.post("/api/v1/s3-notification", body, BEARER).status == 503
    # THEN the logs said something, and none of it is a credential or an object's contents
    text = logged(caplog)
    assert "doc.txt" in text or "sync" in text.lower()
    for secret in (TOKEN, SECRET, CONTENTS.decode(), BODY_MARK):
        assert secret not in text, f"{secret!r} is in the logs"
