"""What a chaos run found, and its report: the counts of what was done to the workers, and
whether every sink, queue and DLQ came out as the history says (``converged``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.chaos.checks import SinkDrift
from tests.chaos.config import Config
from tests.chaos.fleet import FleetStats
from tests.chaos.history import History
from tests.chaos.relay import RelayStats


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
