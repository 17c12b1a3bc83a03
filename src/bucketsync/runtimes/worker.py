"""The local worker: long-polls SQS with a few threads and runs the same batch processor.

A message is deleted only once the engine applied it. A failed message is made visible again
with a backoff (at once for a malformed one, which no retry can fix), so the queue's redrive
policy moves it to the DLQ after ``maxReceiveCount`` receives and the rest keep flowing.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketsync.aws.errors import translate
from bucketsync.engine.pipeline import Engine
from bucketsync.errors import is_retryable
from bucketsync.runtimes.processor import EngineBatchProcessor

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300


@dataclass
class WorkerStats:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    empty_polls: int = 0

    def add(self, other: WorkerStats) -> None:
        self.received += other.received
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.empty_polls += other.empty_polls


class Worker:
    def __init__(
        self,
        engine: Engine,
        sqs: SQSClient,
        queue_url: str,
        *,
        threads: int = 4,
        wait_time_seconds: int = 20,
        max_messages: int = 10,
        visibility_timeout: int | None = None,
    ) -> None:
        self.engine = engine
        self.sqs = sqs
        self.queue_url = queue_url
        self.threads = threads
        self.wait_time_seconds = wait_time_seconds
        self.max_messages = max_messages
        self.visibility_timeout = visibility_timeout  # None: the queue's own
        self.stats = WorkerStats()
        self._lock = threading.Lock()

    # -- one cycle --------------------------------------------------------------------------

    def poll_once(self, wait_time_seconds: int | None = None) -> WorkerStats:
        """Receive one batch, apply it, delete what succeeded. Returns this cycle's counts."""
        wait = self.wait_time_seconds if wait_time_seconds is None else wait_time_seconds
        cycle = WorkerStats()
        request: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": self.max_messages,
            "WaitTimeSeconds": wait,
            "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
        }
        if self.visibility_timeout is not None:
            request["VisibilityTimeout"] = self.visibility_timeout
        try:
            answer = self.sqs.receive_message(**request)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "ReceiveMessage") from exc
        messages = answer.get("Messages", [])
        if not messages:
            cycle.empty_polls = 1
            self._merge(cycle)
            return cycle
        records = [_as_lambda_record(m) for m in messages]
        processor = EngineBatchProcessor(self.engine, raise_on_entire_batch_failure=False)
        with processor(records, _no_record_handler):
            processor.process()
        failures = processor.report.failures
        done = [r for r in records if r["messageId"] not in failures]
        self._delete(done)
        self._retry_later(records, failures)
        cycle.received = len(records)
        cycle.succeeded = len(done)
        cycle.failed = len(records) - len(done)
        self._merge(cycle)
        return cycle

    def _delete(self, records: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            try:
                answer = self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": r["receiptHandle"]}
                        for i, r in enumerate(chunk)
                    ],
                )
            except (ClientError, BotoCoreError) as exc:
                # Not fatal: the messages come back and are applied again, harmlessly.
                log.warning("DeleteMessageBatch failed: %s", translate(exc, "DeleteMessageBatch"))
                continue
            for failed in answer.get("Failed", []):
                log.warning("could not delete message: %s", failed.get("Message"))

    def _retry_later(
        self, records: Sequence[dict[str, Any]], failures: dict[str, BaseException]
    ) -> None:
        entries = []
        for i, record in enumerate(records):
            error = failures.get(record["messageId"])
            if error is None:
                continue
            receives = int(record["attributes"].get("ApproximateReceiveCount", "1"))
            # A failure no retry can fix goes back at once, to reach the DLQ quickly.
            delay = min(MAX_BACKOFF_SECONDS, 2**receives) if is_retryable(error) else 0
            entries.append(
                {"Id": str(i), "ReceiptHandle": record["receiptHandle"], "VisibilityTimeout": delay}
            )
        for start in range(0, len(entries), 10):
            try:
                self.sqs.change_message_visibility_batch(
                    QueueUrl=self.queue_url,
                    Entries=entries[start : start + 10],  # type: ignore[arg-type]
                )
            except (ClientError, BotoCoreError) as exc:
                log.warning("ChangeMessageVisibility failed: %s", exc)

    def _merge(self, cycle: WorkerStats) -> None:
        with self._lock:
            self.stats.add(cycle)

    # -- loops ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> WorkerStats:
        """Poll with ``threads`` threads until ``stop`` is set; in-flight batches finish."""
        workers = [
            threading.Thread(target=self._loop, args=(stop,), name=f"bucketsync-worker-{n}")
            for n in range(self.threads)
        ]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        return self.stats

    def _loop(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                self.poll_once()
                failures = 0
            except Exception as exc:  # keep polling: a queue outage must not kill the worker
                failures += 1
                log.error("poll failed (%s in a row): %s", failures, exc)
                stop.wait(min(30.0, 0.5 * 2**failures))

    def drain(
        self,
        *,
        idle_polls: int = 2,
        wait_time_seconds: int = 1,
        timeout: float | None = 120.0,
        stop: threading.Event | None = None,
    ) -> WorkerStats:
        """Poll on this thread until the queue gave ``idle_polls`` empty answers in a row
        (or ``stop`` is set, or ``timeout`` seconds passed)."""
        deadline = time.monotonic() + timeout if timeout is not None else float("inf")
        total = WorkerStats()
        idle = 0
        while idle < idle_polls and time.monotonic() < deadline:
            if stop is not None and stop.is_set():
                break
            cycle = self.poll_once(wait_time_seconds)
            total.add(cycle)
            idle = idle + 1 if cycle.received == 0 else 0
        return total


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGINT and SIGTERM ask the worker to finish its in-flight batches and stop."""

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("%s received: finishing in-flight batches", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)


def _as_lambda_record(message: Any) -> dict[str, Any]:
    """An SQS ReceiveMessage entry in the shape Lambda's SQS event uses."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
    }


def _no_record_handler(record: Any) -> None:  # pragma: no cover - never called
    raise AssertionError("EngineBatchProcessor processes whole batches")
