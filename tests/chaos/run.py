"""One chaos run: the stack, the relay, the proxy, the workers, the history, the checks.

    history ─► bucket ─► queue A ─► relay: each message once or twice, delayed, shuffled, to each
                                     consumer group's queue (a fan-out; "records": data/ only)
         ┌──────────────────────────────────────┼─────────────────────────────┐
         ▼                                      ▼                             ▼
    "catalog" queue + DLQ           "records" queue + DLQ          "mirror" queue + DLQ
    bucketsync worker x 2           bucketsync worker x 1 or 2     bucketsync worker x 1
    → catalog table                 → rows table (routes)          → mirror on a small tmpfs
         └─────── every AWS call of the workers through the fault proxy ──────┘──► emulator

Three consumer groups, as a fan-out (SNS → SQS) feeds independent consumers. The catalog and
the records are conditional DynamoDB writes that any number of processes may make at once, so
several worker processes share a queue; the mirror's per-key locks are its process's own
(``docs/mirror.md``: one ``MirrorSink`` per root), so one process owns the mirror, as one host
would. The records have their own group because of their lease: a load that stops before it
completes (SIGKILLed, or overtaken by a newer version of its file: its last write is refused)
leaves the file's lease in place for 300 s (``records.loader.Tuning.lease_seconds``, not a
setting), so the newer version waits that long, and the worker holding it pauses meanwhile
(``runtimes.pause``). No one-minute budget can wait that out: the small configuration runs
the records with one process of one thread (loads never overlap) and SIGKILLs only the
catalog and mirror workers; the full one runs two records processes of two threads, kills
them too, and its drain deadline allows for the lease.

Everything random is drawn from generators seeded from ``seed`` (the history, the relay, the
proxy, the killer, the moments of the disk fill, the poison, the brownouts), so
``CHAOS_SEED`` replays the same history and the same decisions; how they interleave with
the workers' threads is the machine's, and is not replayed.

Its parts: ``config`` (what the run is asked to do), ``plan`` (the history drawn from the seed,
and played), ``outcome`` (what it found, and the report) and ``verdict`` (the checks once the
queues are drained).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bucketsync.aws.clients import Clients
from bucketsync.local.emulator import Emulator, settings_for
from bucketsync.local.stack import (
    Stack,
    StackNames,
    ensure_records_tables,
    ensure_stack,
    queue_counts,
    teardown_stack,
)
from bucketsync.record_routes import parse_routes
from tests.chaos.checks import bucket_fingerprints
from tests.chaos.config import GROUPS, Config
from tests.chaos.disk import SmallDisk
from tests.chaos.fleet import Fleet, WorkerSpec, clean_environment
from tests.chaos.history import DATA_PREFIX, History, is_routed
from tests.chaos.outcome import Outcome
from tests.chaos.plan import draw, play
from tests.chaos.proxy import FaultProxy
from tests.chaos.relay import Relay
from tests.chaos.verdict import check, reconcile

LOG_NEEDLES = (
    "worker paused",
    "worker resumed",
    "No space left on device",
    "database or disk is full",
    "another version is loading",
    "poll failed",
    "Traceback",
)


def _queue(clients: Clients, name: str, max_receives: int, visibility: int) -> tuple[str, str]:
    """A consumer group's queue and its DLQ: (queue URL, DLQ URL)."""
    sqs = clients.sqs
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)})
    url = sqs.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": str(visibility), "RedrivePolicy": redrive},
    )["QueueUrl"]
    return url, dlq


def _routes(rows_table: str) -> list[dict[str, Any]]:
    return [
        {"match": "data/**/*.jsonl", "table": rows_table},
        {"match": "data/**/*.json", "table": rows_table},
        {"match": "data/**/*.csv", "table": rows_table, "csv": {"column_types": {"id": "int"}}},
    ]


class Run:
    def __init__(self, emulator: Emulator, clients: Clients, config: Config, seed: int, tmp: Path):
        self.emulator = emulator
        self.clients = clients
        self.config = config
        self.seed = seed
        self.tmp = tmp
        self.names = StackNames.unique(f"chaos-{config.name}")
        self.rows_table = f"{self.names.table}-rows"
        self.routes = json.dumps(_routes(self.rows_table))
        self.outcome = Outcome(config, seed, History(seed))

    # --- the whole run

    def execute(self) -> Outcome:
        started = time.monotonic()
        config, clients, outcome = self.config, self.clients, self.outcome
        stack = ensure_stack(clients, self.names, max_receive_count=config.max_receive_count)
        groups: dict[str, tuple[str, str]] = {}
        try:
            for group in GROUPS:
                groups[group] = _queue(
                    clients,
                    f"{self.names.queue}-{group}",
                    config.max_receive_count,
                    config.visibility_timeout,
                )
            ensure_records_tables(clients, parse_routes(self.routes))
            self._run(stack, groups, started)
        finally:
            for url, dlq in groups.values():
                for queue in (url, dlq):
                    clients.sqs.delete_queue(QueueUrl=queue)
            clients.dynamodb.delete_table(TableName=self.rows_table)
            _empty_bucket(clients, stack.bucket)
            teardown_stack(clients, self.names)
        return outcome

    def _run(self, stack: Stack, groups: dict[str, tuple[str, str]], started: float) -> None:
        config, outcome = self.config, self.outcome
        pool, plan = draw(self.seed, config)
        outcome.keys, outcome.routed_keys = len(pool), sum(map(is_routed, pool))
        with (
            FaultProxy(
                self.emulator.port,
                f"{self.seed}/proxy",
                fault_rate=config.fault_rate,
                ambiguous=config.ambiguous,
                slow_share=config.slow_share,
                slow_max=config.slow_max,
            ) as proxy,
            SmallDisk(self.tmp / "disk", config.disk_mb) as disk,
        ):
            specs = self._specs(proxy.endpoint_url, groups, disk.mirror_dir)
            watched = frozenset(plan.poison.values())
            targets = [groups[group][0] for group in GROUPS]
            self.outcome.group_of = {groups[group][0]: group for group in GROUPS}
            relay = Relay(
                self.clients.sqs,
                stack.queue_url,
                targets,
                f"{self.seed}/relay",
                filters={groups["records"][0]: DATA_PREFIX},
                duplicate=config.duplicate,
                jitter=config.jitter,
                late_max=config.late_max,
                watched=watched,
            )
            fleet = Fleet(specs, self.tmp / "logs", f"{self.seed}/fleet")
            try:
                with relay, fleet:
                    fleet.kill_randomly(config.kill_every, config.downtime, config.kill_groups)
                    began = time.monotonic()
                    freed = play(
                        plan,
                        config,
                        clients=self.clients,
                        stack=stack,
                        disk=disk,
                        proxy=proxy,
                        outcome=outcome,
                    )
                    outcome.seconds["history"] = time.monotonic() - began
                    fleet.stop_killing()
                    if freed is not None:
                        freed.join()
                    began = time.monotonic()
                    outcome.drained = self._wait_drained(stack, groups, relay)
                    outcome.seconds["drain"] = time.monotonic() - began
                    fleet.stop()
            finally:
                outcome.relay = relay.stats
                outcome.relay_errors = relay.errors[:5]
                outcome.fleet = fleet.stats
                outcome.log_counts = fleet.log_counts(*LOG_NEEDLES)
                outcome.proxy_summary = proxy.stats.summary()
                outcome.faults = proxy.stats.total_faults
                outcome.calls = proxy.stats.total_requests
                outcome.consumed = proxy.stats.received
                outcome.disk = self._disk_line(disk)
            began = time.monotonic()
            check(
                outcome,
                self.clients,
                stack=stack,
                rows_table=self.rows_table,
                groups=groups,
                mirror_dir=disk.mirror_dir,
                relay=relay.stats,
            )
            outcome.reconcile = reconcile(
                self.emulator,
                proxy.endpoint_url,
                table=self.names.table,
                routes=self.routes,
                stack=stack,
                mirror_dir=disk.mirror_dir,
                checkpoint=self.tmp / "reconcile.checkpoint",
            )
            outcome.seconds["checks"] = time.monotonic() - began
            outcome.seconds["total"] = time.monotonic() - started
            if not outcome.converged:
                outcome.diagnostics = fleet.tails()

    def _specs(
        self, endpoint: str, groups: dict[str, tuple[str, str]], mirror_dir: Path
    ) -> list[WorkerSpec]:
        config = self.config
        base = {
            **settings_for(self.emulator),
            "BUCKETSYNC_ENDPOINT_URL": endpoint,
            "BUCKETSYNC_TABLE": self.names.table,
            "BUCKETSYNC_ORDERING": "observed",  # the emulator sends no sequencer
            "BUCKETSYNC_WAIT_TIME_SECONDS": "1",
            "BUCKETSYNC_WORKER_THREADS": str(config.worker_threads),
            "BUCKETSYNC_CONCURRENCY": "4",
            "BUCKETSYNC_LOG_LEVEL": "INFO",
            "BUCKETSYNC_LOG_FORMAT": "text",
        }
        catalog = {
            **base,
            "BUCKETSYNC_QUEUE_URL": groups["catalog"][0],
            "BUCKETSYNC_WORKER_THREADS": str(config.catalog_threads),
        }
        records = {
            **base,
            "BUCKETSYNC_QUEUE_URL": groups["records"][0],
            "BUCKETSYNC_WORKER_THREADS": str(config.records_threads),
            "BUCKETSYNC_CATALOG": "false",
            "BUCKETSYNC_ROUTES": self.routes,
        }
        mirror = {
            **base,
            "BUCKETSYNC_QUEUE_URL": groups["mirror"][0],
            "BUCKETSYNC_CATALOG": "false",
            "BUCKETSYNC_MIRROR_DIR": str(mirror_dir),
            "BUCKETSYNC_PERIODIC_SYNC": "false",
        }
        specs = []
        for group, environment, count in (
            ("catalog", catalog, config.catalog_workers),
            ("records", records, config.records_workers),
            ("mirror", mirror, 1),
        ):
            specs += [
                WorkerSpec(f"{group}-{n + 1}", group, clean_environment(environment))
                for n in range(count)
            ]
        return specs

    def _disk_line(self, disk: SmallDisk) -> str:
        if not disk.mounted and not disk.fills:
            return f"no disk-full phase: {disk.why_not}"
        used, total = disk.usage() if disk.mounted else (0, 0)
        return (
            f"{self.config.disk_mb} MiB tmpfs filled ({self.outcome.ballast / 2**20:.1f} MiB "
            f"of ballast) {disk.fills} time(s) for "
            f"{self.config.disk_full_seconds:.0f} s, then freed; "
            f"{used / 2**20:.1f} of {total / 2**20:.1f} MiB used at the end"
        )

    # --- the drain

    def _wait_drained(self, stack: Stack, groups: dict[str, tuple[str, str]], relay: Relay) -> bool:
        """Until the relay holds nothing and queue A and both groups' queues show nothing
        visible and nothing in flight, three times in a row a second apart."""
        queues = {"A": stack.queue_url} | {group: url for group, (url, _) in groups.items()}
        began = time.monotonic()
        deadline = began + self.config.drain_deadline
        quiet = 0
        while time.monotonic() < deadline:
            counts = {name: queue_counts(self.clients, url) for name, url in queues.items()}
            for name, count in counts.items():
                if count == (0, 0):
                    self.outcome.emptied.setdefault(name, time.monotonic() - began)
                else:
                    self.outcome.emptied.pop(name, None)
            empty = relay.idle and all(count == (0, 0) for count in counts.values())
            quiet = quiet + 1 if empty else 0
            if quiet == 3:
                return True
            time.sleep(1.0)
        self.outcome.undrained = f"relay idle: {relay.idle}; (visible, in flight): {counts}"
        return False


def _empty_bucket(clients: Clients, bucket: str) -> None:
    """One DeleteObject per key: moto's DeleteObjects cannot parse some hostile keys (a NUL
    in the XML), which teardown_stack's batch delete would send."""
    for key in bucket_fingerprints(clients, bucket):
        clients.s3.delete_object(Bucket=bucket, Key=key)
