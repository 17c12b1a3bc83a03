"""``bucketsync status``, ``logs`` and ``dlq redrive`` against a stack deployed in the emulator.

moto's SQS runs a queue's Lambda mapping on every SendMessage; without Docker the run fails and
its receives count toward the redrive policy, which would push redriven messages straight back
to the DLQ. The redrive tests pause the mapping first, as an operator fixing the cause would.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from tests.integration.deploying import Deploying

from bucketsync.aws.stacks import Stacks
from bucketsync.operate import redrive as redriving
from bucketsync.operate.logs import tail

DEAD = 25


def s3_event(bucket: str, key: str) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "eventTime": "2026-12-06T10:00:00.000Z",
                    "s3": {
                        "bucket": {"name": bucket},
                        "object": {"key": key, "size": 1, "eTag": "abc"},
                    },
                }
            ]
        }
    )


@pytest.fixture
def deployed(deploying: Deploying) -> Iterator[Deploying]:
    result = deploying.deploy("--backfill")
    assert result.exit_code == 0, result.output
    yield deploying
    assert deploying.cli("destroy", deploying.bucket).exit_code == 0


def queues_of(deploying: Deploying) -> redriving.Queues:
    outputs = deploying.outputs()
    return redriving.Queues(
        dlq_url=outputs["DeadLetterQueueUrl"],
        dlq_arn=outputs["DeadLetterQueueArn"],
        queue_url=outputs["QueueUrl"],
        queue_arn=outputs["QueueArn"],
    )


def pause_mapping(deploying: Deploying) -> None:
    lam = deploying.client("lambda")
    function = deploying.outputs()["FunctionName"]
    for mapping in lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)


def kill(deploying: Deploying, count: int) -> list[str]:
    """``count`` S3 events sent straight to the DLQ, as if each had failed five times."""
    where = queues_of(deploying)
    bodies = [s3_event(deploying.bucket, f"uploads/dead-{n:02}.txt") for n in range(count)]
    for body in bodies:
        deploying.clients.sqs.send_message(QueueUrl=where.dlq_url, MessageBody=body)
    return bodies


def drain(deploying: Deploying, url: str) -> list[str]:
    """Every body in the queue (received and deleted)."""
    sqs = deploying.clients.sqs
    bodies: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not got:
            return bodies
        bodies += [m["Body"] for m in got]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)
            ],
        )


def test_status_reports_the_queues_the_catalog_and_the_dead_letters(deployed: Deploying) -> None:
    # GIVEN a deployed stack whose backfill catalogued the bucket's two uploads
    result = deployed.cli("status", deployed.bucket)
    # THEN status is healthy and counts the bucket's objects in the catalog
    assert result.exit_code == 0, result.output
    assert "in place" in result.stdout
    assert "2 objects, 0 tombstones" in result.stdout
    assert "dead letters" in result.stdout
    # WHEN messages die
    kill(deployed, 3)
    result = deployed.cli("status", deployed.bucket)
    # THEN status exits 1 and names the count and the way out
    assert result.exit_code == 1
    assert f"3 (bucketsync dlq redrive {deployed.bucket})" in result.stdout
    # AND a wiped notification is reported as the silent failure it is
    deployed.clients.s3.put_bucket_notification_configuration(
        Bucket=deployed.bucket, NotificationConfiguration={}
    )
    assert "missing: no events arrive" in deployed.cli("status", deployed.bucket).stdout


def test_redrive_moves_every_dead_message_back_and_dry_run_moves_none(
    deployed: Deploying,
) -> None:
    pause_mapping(deployed)
    where = queues_of(deployed)
    drain(deployed, where.queue_url)  # the emulator's s3:TestEvent
    bodies = kill(deployed, 5)
    # WHEN looking first
    result = deployed.cli("dlq", "redrive", deployed.bucket, "--dry-run")
    # THEN the dead messages are described by their objects, and none moved
    assert result.exit_code == 0, result.output
    assert "5 dead messages" in result.stdout
    assert f"ObjectCreated:Put s3://{deployed.bucket}/uploads/dead-00.txt" in result.stdout
    # WHEN moving at most 2, then the rest
    first = deployed.cli("dlq", "redrive", deployed.bucket, "--max", "2")
    assert first.exit_code == 0, first.output
    assert "moved 2 of 5" in first.stdout
    rest = deployed.cli("dlq", "redrive", deployed.bucket)
    assert rest.exit_code == 0, rest.output
    assert "moved 3 of 3" in rest.stdout
    # THEN the queue holds each body exactly once and the DLQ none
    assert sorted(drain(deployed, where.queue_url)) == sorted(bodies)
    assert drain(deployed, where.dlq_url) == []


class Crash(Exception):
    """The process dying between a batch's send and its delete."""


class CrashOnSecondDelete:
    """An SQS client that dies on its second DeleteMessageBatch (after that batch was sent)."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs
        self.deletes = 0

    def delete_message_batch(self, **kwargs: Any) -> Any:
        self.deletes += 1
        if self.deletes == 2:
            raise Crash
        return self._sqs.delete_message_batch(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)


def test_a_redrive_interrupted_halfway_loses_nothing(deployed: Deploying) -> None:
    pause_mapping(deployed)
    where = queues_of(deployed)
    drain(deployed, where.queue_url)
    bodies = kill(deployed, DEAD)
    # WHEN the redrive dies after sending its second batch, before deleting it from the DLQ
    crashing = CrashOnSecondDelete(deployed.clients.sqs)
    with pytest.raises(Crash):
        redriving.redrive(crashing, where, visibility=1)  # type: ignore[arg-type]
    # THEN every message is still somewhere: 20 sent, 10 of them also still dead
    time.sleep(1.2)  # the DLQ's received copies become visible again
    depth = {
        url: int(
            deployed.clients.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        for url in (where.queue_url, where.dlq_url)
    }
    assert depth == {where.queue_url: 20, where.dlq_url: DEAD - 10}
    # WHEN the redrive is run again
    done = redriving.redrive(deployed.clients.sqs, where, visibility=1)
    # THEN the DLQ is empty and the queue holds every body: the interrupted batch twice
    assert done.moved == DEAD - 10 and done.failed == 0
    delivered = Counter(drain(deployed, where.queue_url))
    assert set(delivered) == set(bodies)
    assert sum(delivered.values()) == DEAD + 10
    assert sorted(delivered.values()).count(2) == 10
    assert drain(deployed, where.dlq_url) == []


def test_logs_prints_the_function_s_lines_and_follows_new_ones(deployed: Deploying) -> None:
    logs = deployed.client("logs")
    group = deployed.outputs()["LogGroupName"]
    logs.create_log_stream(logGroupName=group, logStreamName="2026/12/06/[$LATEST]abc")
    now = int(time.time() * 1000)

    def put(message: str, at: int) -> None:
        logs.put_log_events(
            logGroupName=group,
            logStreamName="2026/12/06/[$LATEST]abc",
            logEvents=[{"timestamp": at, "message": message}],
        )

    put(json.dumps({"level": "INFO", "message": "batch done", "changes": 10}), now - 2000)
    put(json.dumps({"level": "ERROR", "message": "table missing", "table": "t"}), now - 1000)
    # WHEN printing the last hour
    result = deployed.cli("logs", deployed.bucket, "--since", "1h")
    # THEN both lines, readable: level, message, the other fields
    assert result.exit_code == 0, result.output
    assert 'INFO    batch done  {"changes": 10}' in result.stdout
    assert 'ERROR   table missing  {"table": "t"}' in result.stdout
    # AND a filter pattern keeps only what matches
    errors = deployed.cli("logs", deployed.bucket, "--since", "1h", "--filter", "ERROR")
    assert "table missing" in errors.stdout and "batch done" not in errors.stdout
    # WHEN following while a new line arrives
    seen: list[str] = []
    stop = threading.Event()

    def later() -> None:
        time.sleep(0.3)
        put("a later line", now + 500)

    writer = threading.Thread(target=later)
    writer.start()
    for event in tail(
        logs,
        group,
        start_ms=now - 10_000,
        follow=True,
        stop=stop.is_set,
        poll=0.1,
    ):
        seen.append(event.message)
        if event.message == "a later line":
            stop.set()
    writer.join()
    # THEN every line once, the new one last
    assert len(seen) == len(set(seen)) >= 3
    assert seen[-1] == "a later line"


def test_status_of_no_stack_says_so(deploying: Deploying) -> None:
    result = deploying.cli("status", deploying.bucket)
    assert result.exit_code != 0
    assert Stacks(deploying.cfn).describe(deploying.stack) is None
