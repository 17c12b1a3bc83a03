"""What a chaos run is asked to do (``run.py`` does it): how many operations over how many
keys and how fast, how many workers of each consumer group, how often the relay duplicates and
delays, how often the proxy fails a call, when workers are killed, when the mirror's disk
fills, how much poison and how many brownouts, and how long the queues may take to drain.
The small and the full configurations are in ``test_chaos.py``."""

from __future__ import annotations

from dataclasses import dataclass

GROUPS = ("catalog", "records", "mirror")


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
    records_threads: int = 1  # see run.py's docstring
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
