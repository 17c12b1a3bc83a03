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
"""

from __future__ import annotations

import json
import random
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
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
from tests.chaos.checks import (
    SinkDrift,
    bucket_fingerprints,
    catalog_drift,
    dlq_verdict,
    drain_queue,
    mirror_drift,
    records_drift,
)
from tests.chaos.disk import SmallDisk
from tests.chaos.fleet import Fleet, FleetStats, WorkerSpec, clean_environment, cli_command
from tests.chaos.history import (
    DATA_PREFIX,
    History,
    Operation,
    is_routed,
    key_pool,
    operations,
)
from tests.chaos.proxy import FaultProxy
from tests.chaos.relay import Relay, RelayStats

# Malformed bodies, each one a message no retry can fix: they must reach the DLQ, alone.
POISON = (
    '{"Records": [oops',
    "not json at all \u2603",
    '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}',
    '{"Records": "not a list"}',
    '{"Type": "Notification", "Message": "{\\"Records\\": [{]}"}',
    '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {'
    '"bucket": {"name": "b"}, "object": {"key": "%E0%A4%A", "size": "big"}}}]}',
)
GROUPS = ("catalog", "records", "mirror")
LOG_NEEDLES = (
    "worker paused",
    "worker resumed",
    "No space left on device",
    "database or disk is full",
    "another version is loading",
    "poll failed",
    "Traceback",
)


@dataclass(frozen=True)
class Config:
    name: str
    ops: int
    keys: int
    rate: float  # operations per second the history aims at
    routed: float = 0.25  # share of the keys that are data files the records rules route
    drips: float = 0.04  # chance, at each step, that a key starts being rewritten every second
    catalog_workers: int = 2
    records_workers: int = 1
    records_threads: int = 1  # see the module's docstring
    catalog_threads: int = 2
    worker_threads: int = 2
    duplicate: float = 0.2
    jitter: float = 0.3  # the relay's delay of a first copy, at most (seconds)
    late_max: float = 4.0
    fault_rate: float = 0.085  # with the brownouts, about 10% of all calls
    ambiguous: float = 0.0  # share of 5xx faults answered after the request was applied
    slow_share: float = 0.25
    slow_max: float = 2.0
    kill_every: tuple[float, float] = (3.0, 8.0)
    downtime: tuple[float, float] = (0.0, 1.5)
    kill_groups: tuple[str, ...] = GROUPS
    disk_mb: int = 8  # room for the state store's WAL (up to ~4 MiB) and the files
    disk_full_at: float = 0.3  # of the history
    disk_full_seconds: float = 5.0
    poison: int = 3
    brownouts: int = 1
    brownout_seconds: float = 2.0
    visibility_timeout: int = 10
    max_receive_count: int = 5
    drain_deadline: float = 120.0


@dataclass(frozen=True)
class Plan:
    """The operations, and at which of them the poison, the brownouts and the disk fill come."""

    ops: list[Operation]
    poison: dict[int, str]  # operation index -> body
    brownouts: dict[int, str]  # operation index -> service
    fill_at: int


@dataclass
class Outcome:
    config: Config
    seed: int
    history: History
    keys: int = 0
    routed_keys: int = 0
    relay: RelayStats = field(default_factory=RelayStats)
    fleet: FleetStats = field(default_factory=FleetStats)
    proxy_summary: str = ""
    faults: int = 0
    calls: int = 0
    consumed: int = 0  # messages SQS handed the workers (redeliveries included)
    disk: str = ""
    poison_sent: int = 0
    dlq: dict[str, int] = field(default_factory=dict)
    dlq_problems: list[str] = field(default_factory=list)
    source_dlq: int = 0
    drifts: list[SinkDrift] = field(default_factory=list)
    reconcile: dict[str, Any] = field(default_factory=dict)
    bucket_matches_history: bool = True
    drained: bool = False
    log_counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    relay_errors: list[str] = field(default_factory=list)
    diagnostics: str = ""
    group_of: dict[str, str] = field(default_factory=dict)  # queue URL -> group
    undrained: str = ""
    ballast: int = 0  # bytes written to fill the mirror's disk
    emptied: dict[str, float] = field(default_factory=dict)  # queue -> seconds into the drain

    @property
    def converged(self) -> bool:
        return (
            self.drained
            and self.bucket_matches_history
            and all(drift.total == 0 for drift in self.drifts)
            and not self.dlq_problems
            and self.source_dlq == 0
        )

    def summary(self) -> str:
        c, h = self.config, self.history
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(h.counts.items()))
        relay = self.relay
        sent = ", ".join(f"{self.group_of.get(url, url)} {n}" for url, n in relay.sent.items())
        lines = [
            f"chaos {c.name}: seed {self.seed} (replay: CHAOS_SEED={self.seed})",
            f"  ops        {h.operations} ({counts}) over {self.keys} keys "
            f"({self.routed_keys} routed data files)",
            f"  messages   {relay.received} notifications relayed as {relay.delivered} "
            f"deliveries ({sent}); {relay.duplicates} duplicates ({relay.late} late); "
            f"SQS handed the workers {self.consumed} messages (redeliveries included)",
            f"  kills      {self.fleet.kills} SIGKILLs ({dict(self.fleet.killed)}), "
            f"{self.fleet.crashes} crashes (exit codes {self.fleet.crash_codes}), restarted; "
            f"worker logs: {self.log_counts}",
            f"  faults     {self.proxy_summary}",
            f"  disk       {self.disk}",
            f"  poison     {self.poison_sent} injected; DLQ counts {self.dlq} "
            f"(source queue's DLQ: {self.source_dlq})",
            "  drift      " + "; ".join(drift.line() for drift in self.drifts),
            f"  reconcile  --dry-run afterwards: {self.reconcile}",
            "  time       "
            + ", ".join(f"{part} {seconds:.1f} s" for part, seconds in self.seconds.items())
            + " (queues empty after: "
            + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.emptied.items())
            + ")",
        ]
        if self.relay_errors:
            lines.append(f"  relay      errors (retried): {self.relay_errors}")
        if not self.drained:
            lines.append(f"  NOT DRAINED within the deadline: {self.undrained}")
        if not self.bucket_matches_history:
            lines.append("  the bucket differs from the history's model (a test bug)")
        lines += [f"  DLQ: {problem}" for problem in self.dlq_problems]
        lines += [drift.details() for drift in self.drifts if drift.total]
        return "\n".join(line for line in lines if line)


def _rng(seed: int, part: str) -> random.Random:
    return random.Random(f"{seed}/{part}")


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
        pool = key_pool(_rng(self.seed, "keys"), config.keys, config.routed)
        outcome.keys, outcome.routed_keys = len(pool), sum(map(is_routed, pool))
        ops = operations(_rng(self.seed, "history"), pool, config.ops, drips=config.drips)
        moments = _rng(self.seed, "plan")
        plan = Plan(
            ops,
            poison={
                index: POISON[n % len(POISON)]
                for n, index in enumerate(moments.sample(range(len(ops)), config.poison))
            },
            brownouts={
                index: moments.choice(("s3", "dynamodb", "sqs"))
                for index in moments.sample(range(len(ops)), config.brownouts)
            },
            fill_at=int(len(ops) * config.disk_full_at),
        )
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
                    freed = self._history(stack, plan, disk, proxy)
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
            self._check(stack, groups, disk.mirror_dir, relay.stats)
            outcome.reconcile = self._reconcile(proxy.endpoint_url, stack, disk.mirror_dir)
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

    # --- the history, with the disk fill, the poison and the brownouts at their moments

    def _history(
        self, stack: Stack, plan: Plan, disk: SmallDisk, proxy: FaultProxy
    ) -> threading.Thread | None:
        """The operations at ``rate``, each event of the plan at its moment; the timer that
        frees the disk again, if it was filled."""
        config, s3, history = self.config, self.clients.s3, self.outcome.history
        freed: threading.Thread | None = None
        began = time.monotonic()
        for index, operation in enumerate(plan.ops):
            if index == plan.fill_at and disk.mounted:
                self.outcome.ballast = disk.fill()
                freed = threading.Timer(config.disk_full_seconds, disk.free)
                freed.start()
            if index in plan.poison:
                body = plan.poison[index]
                self.clients.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
                self.outcome.poison_sent += 1
            if index in plan.brownouts:
                proxy.brownout(plan.brownouts[index], config.brownout_seconds)
            if operation.kind == "put":
                s3.put_object(Bucket=stack.bucket, Key=operation.key, Body=operation.body)
            else:
                s3.delete_object(Bucket=stack.bucket, Key=operation.key)
            history.apply(operation)
            ahead = (index + 1) / config.rate - (time.monotonic() - began)
            if ahead > 0:
                time.sleep(ahead)
        return freed

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

    # --- the checks

    def _check(
        self,
        stack: Stack,
        groups: dict[str, tuple[str, str]],
        mirror_dir: Path,
        relay: RelayStats,
    ) -> None:
        outcome, clients, history = self.outcome, self.clients, self.outcome.history
        listing = bucket_fingerprints(clients, stack.bucket)
        outcome.bucket_matches_history = listing == history.fingerprints()
        outcome.drifts = [
            catalog_drift(clients, stack.bucket, stack.table, history),
            records_drift(clients, stack.bucket, self.rows_table, history),
            mirror_drift(mirror_dir, history),
        ]
        for group, (url, dlq) in groups.items():
            held = drain_queue(clients, dlq)
            outcome.dlq[group] = len(held)
            expected: Counter[str] = Counter(
                {body: n for (target, body), n in relay.watched.items() if target == url}
            )
            problem = dlq_verdict(held, expected)
            if problem:
                outcome.dlq_problems.append(f"{group}: {problem}")
        outcome.source_dlq = len(drain_queue(clients, stack.dlq_url))

    def _reconcile(self, endpoint: str, stack: Stack, mirror_dir: Path) -> dict[str, Any]:
        """``bucketsync reconcile --dry-run --json`` over all three sinks, through the proxy
        (so with its faults): the project's own view of the drift, as a second opinion.

        One shard: moto answers 500 to a ListObjectsV2 whose StartAfter holds a C0 control
        character (it echoes it unescaped into XML; S3 URL-encodes it), and shard boundaries
        are keys; one listing pages with continuation tokens only."""
        environment = clean_environment(
            {
                **settings_for(self.emulator),
                "BUCKETSYNC_ENDPOINT_URL": endpoint,
                "BUCKETSYNC_TABLE": self.names.table,
                "BUCKETSYNC_ROUTES": self.routes,
                "BUCKETSYNC_MIRROR_DIR": str(mirror_dir),
                "BUCKETSYNC_ORDERING": "observed",
            }
        )
        try:
            answer = subprocess.run(
                cli_command(
                    "reconcile",
                    f"s3://{stack.bucket}",
                    "--dry-run",
                    "--json",
                    "--shards",
                    "1",
                    "--checkpoint",
                    str(self.tmp / "reconcile.checkpoint"),
                ),
                env=environment,
                capture_output=True,
                text=True,
                timeout=240,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            return {"exit": f"no answer within {exc.timeout:.0f} s"}
        try:
            report = json.loads(answer.stdout)
        except ValueError:
            return {"exit": answer.returncode, "stderr": answer.stderr[-2000:]}
        drift = {
            name: {kind: sink.get(kind, 0) for kind in ("missing", "stale", "phantom")}
            for name, sink in report.get("sinks", {}).items()
        }
        result: dict[str, Any] = {"exit": answer.returncode, **drift}
        if report.get("errors"):
            result["errors"] = report["errors"][:3]
        return result


def _empty_bucket(clients: Clients, bucket: str) -> None:
    """One DeleteObject per key: moto's DeleteObjects cannot parse some hostile keys (a NUL
    in the XML), which teardown_stack's batch delete would send."""
    for key in bucket_fingerprints(clients, bucket):
        clients.s3.delete_object(Bucket=bucket, Key=key)
