"""A chaos run's history: the keys and the operations drawn from its seed, the moments of the
poison, the brownouts and the disk fill among them, and the history played against the bucket
at the configured rate."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from bucketsync.aws.clients import Clients
from bucketsync.local.stack import Stack
from tests.chaos.config import Config
from tests.chaos.disk import SmallDisk
from tests.chaos.history import Operation, key_pool, operations
from tests.chaos.outcome import Outcome
from tests.chaos.proxy import FaultProxy

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


@dataclass(frozen=True)
class Plan:
    """The operations, and at which of them the poison, the brownouts and the disk fill come."""

    ops: list[Operation]
    poison: dict[int, str]  # operation index -> body
    brownouts: dict[int, str]  # operation index -> service
    fill_at: int


def rng(seed: int, part: str) -> random.Random:
    """The generator of one part of the run (``keys``, ``history``, ``plan``), seeded from the
    run's seed: ``CHAOS_SEED`` replays each part alike."""
    return random.Random(f"{seed}/{part}")


def draw(seed: int, config: Config) -> tuple[list[str], Plan]:
    """The pool of keys, and the plan of the run over it."""
    pool = key_pool(rng(seed, "keys"), config.keys, config.routed)
    ops = operations(rng(seed, "history"), pool, config.ops, drips=config.drips)
    moments = rng(seed, "plan")
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
    return pool, plan


def play(
    plan: Plan,
    config: Config,
    *,
    clients: Clients,
    stack: Stack,
    disk: SmallDisk,
    proxy: FaultProxy,
    outcome: Outcome,
) -> threading.Thread | None:
    """The operations at ``rate``, each event of the plan at its moment; the timer that
    frees the disk again, if it was filled."""
    s3, history = clients.s3, outcome.history
    freed: threading.Thread | None = None
    began = time.monotonic()
    for index, operation in enumerate(plan.ops):
        if index == plan.fill_at and disk.mounted:
            outcome.ballast = disk.fill()
            freed = threading.Timer(config.disk_full_seconds, disk.free)
            freed.start()
        if index in plan.poison:
            body = plan.poison[index]
            clients.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
            outcome.poison_sent += 1
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
