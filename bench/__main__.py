"""``make bench``: run every benchmark in bench/ (each starts its own emulator)."""

from __future__ import annotations

import sys

from bench import (
    emulator_costs,
    latency,
    mirror_sync,
    reconcile,
    records_load,
    requests_per_change,
    throughput,
)

BENCHMARKS = {
    "emulator_costs": emulator_costs.main,
    "requests_per_change": requests_per_change.main,
    "throughput": throughput.main,
    "latency": latency.main,
    "records_load": records_load.main,
    "mirror_sync": mirror_sync.main,
    "reconcile": reconcile.main,
}


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    for name in chosen:
        print(f"== {name}")
        sys.argv = [name]
        BENCHMARKS[name]()


if __name__ == "__main__":
    main()
