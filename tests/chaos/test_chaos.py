"""Chaos: a random history against real ``bucketsync worker`` processes, while everything fails.

On the session's moto server, a seeded history of puts, overwrites and deletes over a pool of
colliding, hostile keys (and data files the records rules route) runs while

* every notification is delivered at least once and about 20% twice, late and reordered
  (``relay``: the bucket notifies queue A, the relay fans out to the consumer groups' queues);
* the worker processes are SIGKILLed at random moments and restarted (``fleet``);
* about 10% of their AWS calls fail with each service's throttling or 5xx answer, one
  service browns out for a moment, and some HeadObject answers are held back (``proxy``);
* the mirror's disk (a tmpfs) fills up once and is freed again (``disk``);
* a few malformed messages (poison) are injected.

Once the queues are drained, with no reconcile: the catalog equals the bucket (deleted keys
are tombstones), the records tables hold exactly the rows of each data file, the mirror
equals the bucket byte for byte, and each DLQ holds exactly the poison copies delivered to
its group. Then ``bucketsync reconcile --dry-run`` must find no drift either (a second
opinion, through the faulty proxy). docs/chaos.md says how to run and replay it.

Two configurations: ``small`` runs in ``make test`` (a minute or so); ``full`` (10,000
operations over about 500 keys) only with ``make chaos`` (``CHAOS_FULL=1``). ``CHAOS_SEED``
replays a history, ``CHAOS_OPS`` changes the number of operations of either.
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path

import pytest

from bucketsync.aws.clients import Clients
from bucketsync.local.emulator import Emulator
from tests.chaos.config import Config
from tests.chaos.run import Run

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

SMALL = Config(
    name="small",
    ops=240,
    keys=60,
    rate=6.0,  # slow enough that the workers keep up: lookups then overlap the next change
    routed=0.2,
    drips=0.1,
    jitter=0.1,
    catalog_threads=3,
    kill_every=(3.0, 7.0),
    kill_groups=("catalog", "mirror"),  # a killed load's lease (300 s) outlasts the budget
    disk_full_seconds=4.0,
    poison=3,
    brownouts=1,
    brownout_seconds=2.0,
    drain_deadline=90.0,
)
FULL = Config(
    name="full",
    ops=10_000,
    keys=500,
    rate=10.0,
    catalog_threads=3,
    records_workers=2,
    records_threads=2,
    kill_every=(5.0, 20.0),
    disk_mb=24,
    disk_full_at=0.4,
    disk_full_seconds=20.0,
    poison=6,
    brownouts=6,
    brownout_seconds=3.0,
    ambiguous=0.5,
    drain_deadline=1800.0,
)


def chaos_seed() -> int:
    """``CHAOS_SEED`` from the environment (to replay a run), else a fresh random seed."""
    raw = os.environ.get("CHAOS_SEED")
    return int(raw) if raw else random.SystemRandom().randrange(2**32)


def configured(config: Config) -> Config:
    raw = os.environ.get("CHAOS_OPS")
    return dataclasses.replace(config, ops=int(raw)) if raw else config


def run_and_check(
    emulator: Emulator,
    clients: Clients,
    config: Config,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed = chaos_seed()
    outcome = Run(emulator, clients, configured(config), seed, tmp_path).execute()
    summary = outcome.summary()
    with capsys.disabled():
        print("\n" + summary)
    converged = outcome.converged
    assert converged, f"{summary}\n{outcome.diagnostics}"
    reconcile_drift = {
        name: drift
        for name, drift in outcome.reconcile.items()
        if isinstance(drift, dict) and any(drift.values())
    }
    assert outcome.reconcile.get("exit") == 0 and not reconcile_drift, (
        f"{summary}\nreconcile --dry-run disagrees: {outcome.reconcile}"
    )


@pytest.mark.timeout(420)
def test_small_configuration_converges(
    emulator: Emulator, clients: Clients, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_and_check(emulator, clients, SMALL, tmp_path, capsys)


@pytest.mark.timeout(3600)
@pytest.mark.skipif(
    os.environ.get("CHAOS_FULL") != "1", reason="the full configuration runs with make chaos"
)
def test_full_configuration_converges(
    emulator: Emulator, clients: Clients, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_and_check(emulator, clients, FULL, tmp_path, capsys)
