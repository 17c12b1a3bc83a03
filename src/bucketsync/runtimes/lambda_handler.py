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

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from bucketsync.aws.clients import Clients
from bucketsync.compose import build_engine, writes_to
from bucketsync.deadline import deadline_in
from bucketsync.engine.pipeline import BatchReport, Engine
from bucketsync.errors import (
    BucketSyncError,
    ConfigurationError,
    Fault,
    RetryableError,
    UnfinishedError,
    fault_of,
)
from bucketsync.events import parse_payload
from bucketsync.logs import SERVICE, json_logger
from bucketsync.runtimes.invocations import is_sqs_batch
from bucketsync.runtimes.processor import EngineBatchProcessor
from bucketsync.runtimes.visibility import backoff_seconds, change_visibility, queue_url_of
from bucketsync.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


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
            # A batch whose every message failed is reported like any other (each item
            # retried alone, then dead-lettered) rather than raised: the same outcome for
            # Lambda, and the batch's metrics and log line are still written.
            processor = EngineBatchProcessor(self.engine, raise_on_entire_batch_failure=False)
            response = process_partial_response(
                event=event, record_handler=_unused, processor=processor, context=context
            )
            self._done("batch done", processor.report)
            self._ours(event["Records"], processor.report)
            return dict(response)
        report = self.engine.process_changes(parse_payload(event))
        self._done("event done", report)
        if report.failures:
            raise next(iter(report.failures.values()))
        return {"changes": report.changes}

    def _ours(self, records: list[dict[str, Any]], report: BatchReport) -> None:
        """Back off the messages that failed for a fault of ours; raise if the batch must fail
        whole (a configuration fault, or nothing but faults of ours)."""
        ours = {
            message_id: (error, fault)
            for message_id, error in report.failures.items()
            # A checkpointed load is no fault: it resumes on its next delivery, unhindered.
            if (fault := fault_of(error)).ours and not isinstance(error, UnfinishedError)
        }
        if not ours:
            return
        failed = [r for r in records if r.get("messageId") in ours]
        self._back_off(failed)
        faults = [fault for _, fault in ours.values()]
        worst = Fault.CONFIGURATION if Fault.CONFIGURATION in faults else Fault.TRANSIENT
        if worst is Fault.TRANSIENT and len(ours) < len(records):
            return  # others went through: a partial response, these back after their backoff
        error = next(error for error, fault in ours.values() if fault is worst)
        where = writes_to(self.settings, self.engine)
        reason = (
            f"batch of {len(records)} failed whole ({worst.value} fault; {len(failed)} "
            f"message(s) back in {backoff_seconds(_receives(failed[0]))} s or more): {error}"
            + (f" [{where}]" if where else "")
        )
        self.logger.error(reason)
        kind = ConfigurationError if worst is Fault.CONFIGURATION else RetryableError
        raise kind(reason) from error

    def _back_off(self, records: list[dict[str, Any]]) -> None:
        """Each record's message invisible for its backoff, on the queue its ARN names."""
        by_queue: dict[str, list[tuple[str, int]]] = {}
        for record in records:
            try:
                queue = queue_url_of(
                    str(record.get("eventSourceARN", "")), self.settings.endpoint_url
                )
            except ValueError:
                continue  # not from a queue we can name: its own timeout applies
            by_queue.setdefault(queue, []).append(
                (str(record.get("receiptHandle", "")), backoff_seconds(_receives(record)))
            )
        for queue, entries in by_queue.items():
            change_visibility(self.sqs, queue, entries)

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


def _receives(record: dict[str, Any]) -> int:
    try:
        return int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
    except (TypeError, ValueError):
        return 1


def _unused(record: Any) -> None:  # pragma: no cover - the processor never calls it
    raise BucketSyncError("EngineBatchProcessor processes whole batches")
