"""The AWS Lambda entry point: ``bucketsync.runtimes.lambda_handler.handler``.

* SQS batches (S3 → SQS, S3 → SNS → SQS, EventBridge → SQS): partial batch response, so one bad
  message is retried, and finally dead-lettered, alone. Needs ``ReportBatchItemFailures`` on
  the event source mapping.
* Direct invocations (S3 → Lambda, SNS → Lambda, EventBridge → Lambda): any failure raises, so
  Lambda's asynchronous retries and on-failure destination take over.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from bucketsync.deadline import deadline_in
from bucketsync.engine.pipeline import BatchReport, Engine
from bucketsync.errors import BucketSyncError
from bucketsync.events import parse_payload
from bucketsync.logs import SERVICE, json_logger
from bucketsync.runtimes.invocations import is_sqs_batch
from bucketsync.runtimes.processor import EngineBatchProcessor
from bucketsync.settings import Settings
from bucketsync.wiring import build_engine


class LambdaApp:
    """The handler's state, built once per execution environment (cold start)."""

    def __init__(self, settings: Settings | None = None, engine: Engine | None = None) -> None:
        self.settings = settings or Settings()
        self.logger = json_logger(self.settings)
        self.metrics = Metrics(namespace="bucketsync", service=SERVICE)
        self.engine = engine or build_engine(self.settings)
        self.handle = self.metrics.log_metrics(self.logger.inject_lambda_context(self._handle))

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
            return dict(response)
        report = self.engine.process_changes(parse_payload(event))
        self._done("event done", report)
        if report.failures:
            raise next(iter(report.failures.values()))
        return {"changes": report.changes}

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


def _unused(record: Any) -> None:  # pragma: no cover - the processor never calls it
    raise BucketSyncError("EngineBatchProcessor processes whole batches")
