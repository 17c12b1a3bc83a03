"""The AWS Lambda entry point: ``bucketsync.runtimes.lambda_handler.handler``.

* SQS batches (S3 → SQS, S3 → SNS → SQS, EventBridge → SQS): partial batch response, so one bad
  message is retried, and finally dead-lettered, alone. Needs ``ReportBatchItemFailures`` on
  the event source mapping.
* Direct invocations (S3 → Lambda, SNS → Lambda, EventBridge → Lambda): any failure raises, so
  Lambda's asynchronous retries and on-failure destination take over.

A failure that is ours, not the message's (``errors.fault_of``: a missing table, denied access,
throttling) cannot be waited out here as the worker does: an invocation is billed by the second
and ends at its timeout. So the handler hands the wait to SQS: each such message is made
invisible for ``visibility.backoff_seconds`` of its receive count (60 s, 2, 4 ... minutes; the
queue from the record's ``eventSourceARN``), and a batch that failed for a configuration fault,
or failed whole for ours, is failed whole and at once (raised), which also makes the event
source mapping poll less. A transient failure beside successes stays a partial response.

No visibility heartbeat here, unlike the worker: Lambda refuses a mapping whose queue hides a
message for less than the function's timeout, and the deployed stack sets six times it, so an
invocation is stopped long before its batch could come back; the handler could not tell when
the mapping received the batch anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import (
    PartialItemFailureResponse,
    PartialItemFailures,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from bucketsync.aws.clients import Clients
from bucketsync.aws.queues import change_visibility
from bucketsync.compose import build_engine, writes_to
from bucketsync.deadline import deadline_in
from bucketsync.engine.pipeline import BatchReport, Engine
from bucketsync.errors import ConfigurationError, Fault, RetryableError
from bucketsync.events import parse_payload
from bucketsync.logs import SERVICE, json_logger
from bucketsync.runtimes.invocations import is_sqs_batch
from bucketsync.runtimes.processor import PartialBatch, Settled
from bucketsync.runtimes.visibility import queue_url_of
from bucketsync.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

Record = Mapping[str, Any]  # one message of an SQS event, as Lambda delivers it


class SqsEventBatch(PartialBatch[Record]):
    """One invocation's SQS batch: each failed message a ``batchItemFailures`` entry, and one
    failed for a fault of ours also made invisible for its backoff on the queue its ARN names."""

    def __init__(
        self, engine: Engine, sqs: Callable[[], SQSClient], endpoint_url: str | None = None
    ) -> None:
        super().__init__(engine)
        self._sqs = sqs
        self._endpoint_url = endpoint_url
        self._failures: list[PartialItemFailures] = []

    def response(self) -> PartialItemFailureResponse:
        return {"batchItemFailures": list(self._failures)}

    def _message_id(self, record: Record) -> str:
        return str(record.get("messageId", ""))

    def _body(self, record: Record) -> str:
        return str(record.get("body", ""))

    def _receives(self, record: Record) -> int:
        try:
            return int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        except (TypeError, ValueError):
            return 1

    def _consume(self, done: Sequence[Record]) -> None:
        """Nothing to do: Lambda deletes every message the response does not name."""

    def _fail_alone(self, failed: Sequence[Record]) -> None:
        self._failures.extend({"itemIdentifier": self._message_id(r)} for r in failed)

    def _keep(self, kept: Sequence[Record]) -> None:
        self._fail_alone(kept)  # named in the response too, or Lambda would delete them
        by_queue: dict[str, list[tuple[str, int]]] = {}
        for record in kept:
            try:
                queue = queue_url_of(str(record.get("eventSourceARN", "")), self._endpoint_url)
            except ValueError:
                continue  # not from a queue we can name: its own timeout applies
            by_queue.setdefault(queue, []).append(
                (str(record.get("receiptHandle", "")), self.backoff(record))
            )
        for queue, entries in by_queue.items():
            change_visibility(self._sqs(), queue, entries)


class LambdaApp:
    """The handler's state, built once per execution environment (cold start)."""

    def __init__(
        self,
        settings: Settings | None = None,
        engine: Engine | None = None,
        sqs: SQSClient | None = None,
    ) -> None:
        """``sqs``: the client that sets failed messages' visibility (built when first needed)."""
        self.settings = settings or Settings()
        self.logger = json_logger(self.settings)
        self.metrics = Metrics(namespace="bucketsync", service=SERVICE)
        self.engine = engine or build_engine(self.settings)
        self.handle = self.metrics.log_metrics(self.logger.inject_lambda_context(self._handle))
        self._sqs = sqs

    def _handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # Long loads (the records sink) checkpoint and hand the rest to a retry before Lambda
        # stops them; a context without a clock (tests, local calls) sets no deadline.
        remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        with deadline_in(remaining_ms() / 1000 if callable(remaining_ms) else None):
            return self._dispatch(event, context)

    def _dispatch(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        if is_sqs_batch(event):
            batch = SqsEventBatch(self.engine, lambda: self.sqs, self.settings.endpoint_url)
            settled = batch.process(event["Records"])
            self._done("batch done", settled.report)
            self._fail_whole(batch, settled)
            # A batch whose every message failed alone is reported like any other (each item
            # retried alone, then dead-lettered) rather than raised: the same outcome for
            # Lambda, and the batch's metrics and log line are still written.
            return dict(batch.response())
        report = self.engine.process_changes(parse_payload(event))
        self._done("event done", report)
        if report.failures:
            raise next(iter(report.failures.values()))
        return {"changes": report.changes}

    def _fail_whole(self, batch: SqsEventBatch, settled: Settled[Record]) -> None:
        """Raise if the batch must fail whole: a configuration fault, or nothing but faults of
        ours (the messages kept for them wait their backoff already)."""
        worst = settled.worst()
        if worst is None:
            return
        kept, size = settled.kept, len(settled.messages)
        if worst.fault is Fault.TRANSIENT and len(kept) < size:
            return  # others went through: a partial response, these back after their backoff
        where = writes_to(self.settings, self.engine)
        reason = (
            f"batch of {size} failed whole ({worst.fault.value} fault; {len(kept)} "
            f"message(s) back in {batch.backoff(kept[0].message)} s or more): {worst.error}"
            + (f" [{where}]" if where else "")
        )
        self.logger.error(reason)
        kind = ConfigurationError if worst.fault is Fault.CONFIGURATION else RetryableError
        raise kind(reason) from worst.error

    @property
    def sqs(self) -> SQSClient:
        if self._sqs is None:
            self._sqs = Clients(self.settings).sqs
        return self._sqs

    def _done(self, message: str, report: BatchReport) -> None:
        self.metrics.add_metric("Changes", MetricUnit.Count, report.changes)
        self.metrics.add_metric("FailedMessages", MetricUnit.Count, len(report.failures))
        for sink, counts in report.outcomes.items():
            for outcome, count in counts.items():
                self.metrics.add_metric(f"{sink}_{outcome}", MetricUnit.Count, count)
        self.logger.info(
            message,
            extra={
                "changes": report.changes,
                "keys": report.keys,
                "lookups": report.lookups,
                "failed_messages": len(report.failures),
                "outcomes": report.outcomes,
            },
        )


_app: LambdaApp | None = None


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The function's configured handler."""
    global _app  # noqa: PLW0603 - one app per warm Lambda container is the point
    if _app is None:
        _app = LambdaApp()
    result: dict[str, Any] = _app.handle(event, context)
    return result
