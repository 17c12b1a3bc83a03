"""One partial-batch processor for the Lambda handler and the local worker.

Powertools' ``BatchProcessor`` calls a handler per record; bucketsync needs the whole batch at
once (to collapse changes per key and batch the conditional writes), so ``process`` hands every
record to the engine in one call, then reports each record through Powertools' own success and
failure handlers. Its ``response()`` is the ``batchItemFailures`` document Lambda expects.
"""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from bucketsync.engine.pipeline import BatchReport, Engine, Message


class EngineBatchProcessor(BatchProcessor):
    def __init__(
        self,
        engine: Engine,
        *,
        raise_on_entire_batch_failure: bool = True,
        logger: logging.Logger | None = None,
    ) -> None:
        super().__init__(
            EventType.SQS,
            raise_on_entire_batch_failure=raise_on_entire_batch_failure,
            logger=logger,
        )
        self.engine = engine
        self.report = BatchReport()

    def process(self) -> list[tuple[Any, ...]]:
        records: list[dict[str, Any]] = list(self.records)
        self.report = self.engine.process_messages(
            Message(str(r.get("messageId", "")), str(r.get("body", ""))) for r in records
        )
        results: list[tuple[Any, ...]] = []
        for record in records:
            data = self._to_batch_type(record=record, event_type=self.event_type)
            error = self.report.failures.get(str(record.get("messageId", "")))
            if error is None:
                results.append(self.success_handler(record=data, result=None))
                continue
            exc_info = (type(error), error, error.__traceback__)
            results.append(self.failure_handler(record=data, exception=exc_info))
        return results


def as_lambda_record(message: Any) -> dict[str, Any]:
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
