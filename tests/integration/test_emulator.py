"""The emulator's lifecycle and the local stack ``ensure_stack`` builds on it."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bucketsync.aws.clients import Clients
from bucketsync.errors import EmulatorError
from bucketsync.local.emulator import FAKE_ACCESS_KEY_ID, Emulator, settings_for
from bucketsync.local.stack import (
    NOTIFICATION_EVENTS,
    NOTIFICATION_ID,
    Stack,
    StackNames,
    ensure_stack,
    teardown_stack,
)
from bucketsync.settings import Settings
from bucketsync.sinks.catalog.schema import TTL_ATTRIBUTE
from bucketsync.sinks.tables import table_definition


def _refuses_connections(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _listeners(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def _messages(clients: Clients, queue_url: str) -> list[dict[str, Any]]:
    bodies = []
    while batch := clients.sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", []):
        for message in batch:
            bodies.append(json.loads(message["Body"]))
            clients.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_emulator_starts_answers_and_stops_without_leaks() -> None:
    """GIVEN a new Emulator (not the session's)
    WHEN it is started
    THEN it answers S3 over HTTP on 127.0.0.1 only, and reset() forgets everything;
    WHEN it is stopped
    THEN within 5 s the process is reaped (no zombie) and the port is free; stop() again is a no-op.
    """
    started = time.monotonic()
    emulator = Emulator().start()
    try:
        startup = time.monotonic() - started
        port, pid = emulator.port, emulator.pid
        assert emulator.endpoint_url == f"http://127.0.0.1:{port}"
        assert startup < 30
        if Path("/proc/net/tcp").exists():
            assert _listeners(port) == {"0100007F"}, "must listen on 127.0.0.1 only"

        settings = Settings(
            endpoint_url=emulator.endpoint_url,
            access_key_id=FAKE_ACCESS_KEY_ID,  # type: ignore[arg-type]
            secret_access_key=FAKE_ACCESS_KEY_ID,  # type: ignore[arg-type]
        )
        s3 = Clients(settings).s3
        s3.create_bucket(Bucket="lifecycle")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["lifecycle"]
        emulator.reset()
        assert s3.list_buckets()["Buckets"] == []
    finally:
        stopping = time.monotonic()
        emulator.stop()
        stop_took = time.monotonic() - stopping

    assert stop_took < 5
    assert not emulator.running
    assert not Path(f"/proc/{pid}").exists(), "the process was not reaped"
    assert _refuses_connections(port)
    assert _bindable(port)
    emulator.stop()
    with pytest.raises(EmulatorError):
        _ = emulator.endpoint_url


def test_stop_kills_a_server_that_ignores_sigterm() -> None:
    """GIVEN a running Emulator whose process cannot act on SIGTERM (it is SIGSTOPped)
    WHEN it is stopped with a 0.5 s grace
    THEN it is SIGKILLed after the grace and reaped, and its port is free.
    """
    emulator = Emulator(stop_grace=0.5).start()
    port, pid = emulator.port, emulator.pid
    process = emulator._process
    os.kill(pid, signal.SIGSTOP)

    stopping = time.monotonic()
    emulator.stop()
    stop_took = time.monotonic() - stopping

    assert 0.5 <= stop_took < 5
    assert process is not None and process.returncode == -signal.SIGKILL
    assert not Path(f"/proc/{pid}").exists()
    assert _refuses_connections(port)


def test_emulator_that_cannot_start_says_why() -> None:
    """GIVEN a port something already listens on
    WHEN an Emulator is asked to use exactly that port
    THEN start() raises EmulatorError carrying the server's own output, and leaves nothing behind.
    """
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        emulator = Emulator(port=port, startup_timeout=20)
        with pytest.raises(EmulatorError, match="Address already in use"):
            emulator.start()
    assert not emulator.running


def test_settings_for_points_at_the_emulator_with_fake_credentials(emulator: Emulator) -> None:
    """GIVEN the session emulator
    WHEN settings_for() builds the environment
    THEN Settings read from it reach the emulator, with the fake credentials only.
    """
    environment = settings_for(emulator)

    assert environment["BUCKETSYNC_ENDPOINT_URL"] == emulator.endpoint_url
    assert environment["AWS_ACCESS_KEY_ID"] == environment["AWS_SECRET_ACCESS_KEY"] == "testing"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        settings = Settings()
    assert settings.endpoint_url == emulator.endpoint_url
    Clients(settings).s3.list_buckets()


def test_ensure_stack_is_idempotent_and_complete(
    clients: Clients, names: StackNames, stack: Stack
) -> None:
    """GIVEN a stack ensure_stack just created
    WHEN ensure_stack runs again with the same names
    THEN it returns the same Stack, and everything is in place exactly once: an unversioned
    bucket notifying the queue of ObjectCreated:* and ObjectRemoved:*, the queue redriving to the
    DLQ after 3 receives and letting S3 send to it, the catalog table ACTIVE with TTL on
    expires_at, and a single s3:TestEvent in the queue (the second run sent none).
    """
    again = ensure_stack(clients, names)

    assert again == stack
    s3, sqs, dynamodb = clients.s3, clients.sqs, clients.dynamodb
    assert not stack.versioned
    assert "Status" not in s3.get_bucket_versioning(Bucket=names.bucket)

    notification = s3.get_bucket_notification_configuration(Bucket=names.bucket)
    assert [
        (q["Id"], q["QueueArn"], sorted(q["Events"])) for q in notification["QueueConfigurations"]
    ] == [(NOTIFICATION_ID, stack.queue_arn, sorted(NOTIFICATION_EVENTS))]
    assert not notification.get("TopicConfigurations")
    assert not notification.get("LambdaFunctionConfigurations")

    attributes = sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == stack.dlq_arn
    assert int(redrive["maxReceiveCount"]) == 3
    assert attributes["VisibilityTimeout"] == "30"
    assert attributes["QueueArn"] == stack.queue_arn
    (statement,) = json.loads(attributes["Policy"])["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == stack.queue_arn
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:s3:::{names.bucket}"}
    assert sqs.get_queue_url(QueueName=names.dlq)["QueueUrl"] == stack.dlq_url
    assert stack.dlq_arn.endswith(f":{names.dlq}")

    table = dynamodb.describe_table(TableName=names.table)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == table_definition(names.table)["KeySchema"]
    ttl = dynamodb.describe_time_to_live(TableName=names.table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": TTL_ATTRIBUTE}

    assert [m.get("Event") for m in _messages(clients, stack.queue_url)] == ["s3:TestEvent"]


def test_ensure_stack_converges_and_keeps_other_notifications(
    clients: Clients, names: StackNames, stack: Stack
) -> None:
    """GIVEN an existing stack whose bucket also notifies another queue
    WHEN ensure_stack runs with other settings and versioned=True
    THEN the redrive and visibility timeout change, versioning is enabled (and stays enabled
    on a later run without versioned=True), and the other notification survives next to ours.
    """
    other_url = clients.sqs.create_queue(QueueName=f"{names.queue}-other")["QueueUrl"]
    other_arn = clients.sqs.get_queue_attributes(QueueUrl=other_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    clients.s3.put_bucket_notification_configuration(
        Bucket=names.bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                # Events of its own: S3 refuses two destinations for one event (moto does not;
                # deploy.notification refuses them as S3 would).
                {"Id": "other", "QueueArn": other_arn, "Events": ["s3:ObjectRestore:Completed"]}
            ]
        },
    )

    converged = ensure_stack(
        clients, names, max_receive_count=5, visibility_timeout=7, versioned=True
    )

    assert converged.versioned
    assert clients.s3.get_bucket_versioning(Bucket=names.bucket)["Status"] == "Enabled"
    attributes = clients.sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"]) == 5
    assert attributes["VisibilityTimeout"] == "7"
    configurations = clients.s3.get_bucket_notification_configuration(Bucket=names.bucket)[
        "QueueConfigurations"
    ]
    assert sorted((q["Id"], q["QueueArn"]) for q in configurations) == [
        (NOTIFICATION_ID, stack.queue_arn),
        ("other", other_arn),
    ]
    assert ensure_stack(clients, names).versioned, "versioned=False leaves versioning on"
    clients.sqs.delete_queue(QueueUrl=other_url)


def test_teardown_stack_removes_everything_and_tolerates_absence(
    clients: Clients, names: StackNames, stack: Stack
) -> None:
    """GIVEN a stack with objects in its bucket
    WHEN teardown_stack runs twice
    THEN the bucket, both queues and the table are gone, and the second run does not fail.
    """
    clients.s3.put_object(Bucket=names.bucket, Key="a/b", Body=b"x")

    teardown_stack(clients, names)
    teardown_stack(clients, names)

    def code(call: Any) -> str:
        with pytest.raises(ClientError) as failure:
            call()
        return str(failure.value.response["Error"]["Code"])

    assert code(lambda: clients.s3.head_bucket(Bucket=names.bucket)) in {"404", "NoSuchBucket"}
    for queue in (names.queue, names.dlq):
        assert code(lambda q=queue: clients.sqs.get_queue_url(QueueName=q)) in {
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        }
    assert (
        code(lambda: clients.dynamodb.describe_table(TableName=names.table))
        == "ResourceNotFoundException"
    )


def test_unique_names_are_valid_and_distinct() -> None:
    """GIVEN awkward prefixes (test ids with brackets, capitals, long names)
    WHEN unique names are made from them
    THEN each is a valid bucket name (3-63 chars of a-z, 0-9, -) and no two are equal.
    """
    prefixes = ["test_x[param-1]", "UPPER Case", "_", "x" * 200, ""]
    made = [StackNames.unique(p) for p in prefixes for _ in range(3)]

    assert len({n.bucket for n in made}) == len(made)
    for n in made:
        assert 3 <= len(n.bucket) <= 63
        assert n.bucket.replace("-", "").isalnum() and n.bucket == n.bucket.lower()
        assert not n.bucket.startswith("-") and not n.bucket.endswith("-")
        assert n.dlq == f"{n.queue}-dlq" and len(n.dlq) <= 80
    assert StackNames.default().table == Settings.model_fields["table"].default
