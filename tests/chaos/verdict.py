"""After the drain, the verdict on one chaos run: the checks of ``checks.py`` applied to its
sinks and DLQs, and ``bucketsync reconcile --dry-run`` as a second opinion."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from bucketsync.aws.clients import Clients
from bucketsync.local.emulator import Emulator, settings_for
from bucketsync.local.stack import Stack
from tests.chaos.checks import (
    bucket_fingerprints,
    catalog_drift,
    dlq_verdict,
    drain_queue,
    mirror_drift,
    records_drift,
)
from tests.chaos.fleet import clean_environment, cli_command
from tests.chaos.outcome import Outcome
from tests.chaos.relay import RelayStats


def check(
    outcome: Outcome,
    clients: Clients,
    *,
    stack: Stack,
    rows_table: str,
    groups: dict[str, tuple[str, str]],
    mirror_dir: Path,
    relay: RelayStats,
) -> None:
    """Each sink against the bucket and the history, and each group's DLQ against the poison
    copies the relay delivered to it, into ``outcome``."""
    history = outcome.history
    listing = bucket_fingerprints(clients, stack.bucket)
    outcome.bucket_matches_history = listing == history.fingerprints()
    outcome.drifts = [
        catalog_drift(clients, stack.bucket, stack.table, history),
        records_drift(clients, stack.bucket, rows_table, history),
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


def reconcile(
    emulator: Emulator,
    endpoint: str,
    *,
    table: str,
    routes: str,
    stack: Stack,
    mirror_dir: Path,
    checkpoint: Path,
) -> dict[str, Any]:
    """``bucketsync reconcile --dry-run --json`` over all three sinks, through the proxy
    (so with its faults): the project's own view of the drift, as a second opinion.

    One shard: moto answers 500 to a ListObjectsV2 whose StartAfter holds a C0 control
    character (it echoes it unescaped into XML; S3 URL-encodes it), and shard boundaries
    are keys; one listing pages with continuation tokens only."""
    environment = clean_environment(
        {
            **settings_for(emulator),
            "BUCKETSYNC_ENDPOINT_URL": endpoint,
            "BUCKETSYNC_TABLE": table,
            "BUCKETSYNC_ROUTES": routes,
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
                str(checkpoint),
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
