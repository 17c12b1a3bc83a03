"""The forwarding Lambda delivering S3 notifications to the sync service over HTTP, signed,
into a mirror of the emulator's bucket."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr
from tests.integration.service_harness import (
    SECRET,
    put,
    running,
    s3_event,
    service_settings_for,
    wait_for,
)

from bucketsync.api import create_app
from bucketsync.aws.clients import Clients
from bucketsync.local.stack import Stack
from bucketsync.runtimes.forwarder import ForwarderApp, RefusedError
from bucketsync.settings import Settings
from bucketsync.sinks.mirror import local_path

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

CONTEXT = SimpleNamespace(get_remaining_time_in_millis=lambda: 60_000)


def forwarder(url: str, secret: str = SECRET) -> ForwarderApp:
    return ForwarderApp(
        Settings(
            api_endpoint=url, hmac_secret=SecretStr(secret), retry_attempts=2, timeout_seconds=20
        )
    )


def test_a_direct_s3_event_forwarded_and_signed_lands_in_the_mirror(
    settings: Settings, clients: Clients, stack: Stack, tmp_path: Path
) -> None:
    service = service_settings_for(settings, stack, tmp_path)
    key, body = "inbox/report 1.csv", b"id,total\n1,9.50\n"
    with running(create_app(service)) as api:
        put(clients, stack, key, body)
        event = json.loads(s3_event(stack.bucket, key, sequencer="60"))
        # WHEN the forwarder receives the notification S3 sends it
        answer = forwarder(api.base_url).handle(event, CONTEXT)
        # THEN it was delivered on the first attempt and the object is in the mirror
        assert answer == {"status": 200, "attempts": 1}
        assert local_path(Path(str(service.mirror_dir)), key).read_bytes() == body
        # AND a forwarder holding another secret is refused at once, nothing mirrored
        other = "inbox/other.csv"
        put(clients, stack, other, b"x")
        with pytest.raises(RefusedError, match="HTTP 403"):
            forwarder(api.base_url, "not-the-secret-at-all").handle(
                json.loads(s3_event(stack.bucket, other, sequencer="61")), CONTEXT
            )
        assert not local_path(Path(str(service.mirror_dir)), other).exists()


def test_an_sqs_batch_of_moto_notifications_is_forwarded_message_by_message(
    settings: Settings, clients: Clients, stack: Stack, tmp_path: Path
) -> None:
    service = service_settings_for(settings, stack, tmp_path)
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)  # the bucket's s3:TestEvent
    keys = {f"deep/dir {n}/file-{n}.txt": f"body {n}".encode() for n in range(3)}
    for key, body in keys.items():
        put(clients, stack, key, body)
    messages: list[MessageTypeDef] = []

    def received_all() -> bool:
        answer = clients.sqs.receive_message(
            QueueUrl=stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        messages.extend(answer.get("Messages", []))
        return len(messages) >= len(keys)

    wait_for(received_all, "moto's notifications")
    event = {
        "Records": [
            {"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"}
            for m in messages
        ]
        + [{"messageId": "poison", "body": '{"Records": [oops', "eventSource": "aws:sqs"}]
    }
    with running(create_app(service)) as api:
        answer = forwarder(api.base_url).handle(event, CONTEXT)
    # Only the poison message is reported failed; moto's keys (with %2F) all arrived.
    assert answer == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    root = Path(str(service.mirror_dir))
    assert {key: local_path(root, key).read_bytes() for key in keys} == keys
