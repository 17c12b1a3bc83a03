"""Reconcile in Lambda: ``bucketsync.runtimes.reconcile.handler``, one key range a call.

A bucket too large for one process is reconciled by many invocations at once:

    {"action": "plan", "bucket": "b", "prefix": "", "shards": 64, "sinks": ["catalog"],
     "dry_run": false, "max_delete": 1000}
        → {"run": "<id>", "shards": [<shard event>, ...]}
          and, with BUCKETSYNC_RECONCILE_QUEUE_URL set, every shard event sent to that queue

    {"action": "shard", "run": "<id>", "bucket": "b", "prefix": "", "after": "a/",
     "upto": "m/", "sinks": [...], "dry_run": false, "max_delete": 1000}
        → {"done": true|false, "position": ..., "report": {...}}

    an SQS batch whose bodies are shard events (a queue feeding this function)
        → a partial batch response: a shard not done is failed, so it comes back

Each shard keeps its position in the catalog table (``aws.runs.TableCheckpoints``): an
invocation stops ``reconcile_margin_seconds`` before its deadline, saves where it is, and the
next one (the queue's redelivery, or a Step Functions loop on ``done``) continues from there.
``--max-delete`` is one budget for the whole run (``aws.runs.TableBudget``). A Step Functions
Distributed Map can iterate the plan's ``shards`` instead of a queue.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bucketsync.aws.clients import Clients
from bucketsync.aws.queues import send_all
from bucketsync.aws.runs import TableBudget, TableCheckpoints
from bucketsync.compose import reconcile_sinks
from bucketsync.errors import MalformedEventError
from bucketsync.logs import json_logger
from bucketsync.reconcile.listing import S3Listing
from bucketsync.reconcile.run import Options, Reconciler
from bucketsync.reconcile.shards import Shard, plan
from bucketsync.runtimes.invocations import is_sqs_batch
from bucketsync.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShardSpec:
    """One shard event, validated."""

    run: str
    bucket: str
    prefix: str
    after: str
    upto: str | None
    sinks: tuple[str, ...]
    dry_run: bool
    max_delete: int | None

    @classmethod
    def parse(cls, event: Any) -> ShardSpec:
        if not isinstance(event, dict):
            raise MalformedEventError("a shard event is a JSON object")
        try:
            upto = event.get("upto")
            max_delete = event.get("max_delete")
            return cls(
                run=_text(event, "run"),
                bucket=_text(event, "bucket"),
                prefix=str(event.get("prefix", "")),
                after=str(event.get("after", "")),
                upto=None if upto is None else str(upto),
                sinks=tuple(str(s) for s in event.get("sinks", ["all"])),
                dry_run=bool(event.get("dry_run", False)),
                max_delete=None if max_delete is None else int(max_delete),
            )
        except (TypeError, ValueError) as exc:
            raise MalformedEventError(f"shard event: {exc}") from exc

    def event(self) -> dict[str, Any]:
        return {"action": "shard", **asdict(self), "sinks": list(self.sinks)}


def _text(event: dict[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedEventError(f"shard event: {name!r} must be a non-empty string")
    return value


class ReconcileApp:
    """Built once per execution environment (cold start)."""

    def __init__(self, settings: Settings | None = None, clients: Clients | None = None) -> None:
        self.settings = settings or Settings()
        self.logger = json_logger(self.settings)
        self.clients = clients or Clients(self.settings)

    def handle(self, event: Any, context: Any) -> dict[str, Any]:
        remaining = _remaining(context)  # asked anew for each shard of a batch
        if is_sqs_batch(event):
            return self._batch(event["Records"], remaining)
        action = event.get("action") if isinstance(event, dict) else None
        if action == "plan":
            return self.plan(event)
        if action == "shard":
            return self.shard(ShardSpec.parse(event), remaining())
        raise MalformedEventError(f"unknown reconcile action {action!r}: plan or shard")

    # -- the plan -----------------------------------------------------------------------------

    def plan(self, event: dict[str, Any]) -> dict[str, Any]:
        run = str(event.get("run") or uuid.uuid4().hex)
        bucket, prefix = str(event.get("bucket", "")), str(event.get("prefix", ""))
        if not bucket:
            raise MalformedEventError("plan: 'bucket' is required")
        shards = plan(self.clients.s3, bucket, prefix, int(event.get("shards", 16)))
        specs = [
            ShardSpec(
                run,
                bucket,
                prefix,
                shard.after,
                shard.upto,
                tuple(event.get("sinks", ["all"])),
                bool(event.get("dry_run", False)),
                None if event.get("max_delete") is None else int(event["max_delete"]),
            ).event()
            for shard in shards
        ]
        queue = self.settings.reconcile_queue_url
        if queue and event.get("enqueue", True):
            send_all(self.clients.sqs, queue, [json.dumps(spec) for spec in specs])
        log.info("reconcile run %s: %d shards of s3://%s/%s", run, len(specs), bucket, prefix)
        return {"run": run, "shards": specs, "enqueued": bool(queue and event.get("enqueue", True))}

    # -- one shard ----------------------------------------------------------------------------

    def shard(self, spec: ShardSpec, remaining: float | None) -> dict[str, Any]:
        settings, clients = self.settings, self.clients
        shard = Shard(spec.after, spec.upto)
        sinks = reconcile_sinks(settings, clients, spec.sinks)
        cancel = threading.Event()
        timer = None
        if remaining is not None:
            stop_in = max(0.0, remaining - settings.reconcile_margin_seconds)
            timer = threading.Timer(stop_in, cancel.set)
            timer.daemon = True
            timer.start()
        try:
            listing = S3Listing(
                clients.s3, spec.bucket, spec.prefix, page_size=settings.reconcile_page_size
            )
            table = settings.table
            reconciler = Reconciler(
                listing,
                sinks,
                options=Options(
                    dry_run=spec.dry_run,
                    max_delete=spec.max_delete,
                    workers=settings.reconcile_workers,
                    parallel=1,
                ),
                checkpoints=TableCheckpoints(clients.dynamodb, table, spec.run, shard=shard.id),
                budget=TableBudget(clients.dynamodb, table, spec.run, spec.max_delete),
            )
            report = reconciler.run([shard], resume=True, cancel=cancel)
        finally:
            if timer is not None:
                timer.cancel()
            for sink in sinks:
                sink.close()
        done = report.position is None
        self.logger.info(
            "reconcile shard done" if done else "reconcile shard to continue",
            extra={"run": spec.run, "after": spec.after, "upto": spec.upto, "drift": report.drift},
        )
        return {"done": done, "position": report.position, "report": report.as_dict()}

    def _batch(
        self, records: list[dict[str, Any]], remaining: Callable[[], float | None]
    ) -> dict[str, Any]:
        """Each message one shard, in turn; those not done come back (partial batch response)."""
        failures = []
        for record in records:
            try:
                spec = ShardSpec.parse(json.loads(record.get("body", "")))
                done = self.shard(spec, remaining())["done"]
            except (ValueError, MalformedEventError) as exc:
                log.warning("message %s is not a shard: %s", record.get("messageId"), exc)
                done = False
            if not done:
                failures.append({"itemIdentifier": record.get("messageId", "")})
        return {"batchItemFailures": failures}


def _remaining(context: Any) -> Callable[[], float | None]:
    """Seconds the invocation has left, each time it is asked (None: no deadline)."""
    millis = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(millis):
        return lambda: None
    return lambda: float(millis()) / 1000


_app: ReconcileApp | None = None


def handler(event: Any, context: Any) -> dict[str, Any]:
    """The function's configured handler."""
    global _app  # noqa: PLW0603 - one app per warm Lambda container is the point
    if _app is None:
        _app = ReconcileApp()
    return _app.handle(event, context)
