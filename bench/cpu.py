"""CPU time another process has used, to say who kept the emulator busy (Linux /proc)."""

from __future__ import annotations

import os


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far; OSError if it is gone."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of proc(5), counted after the ")" that ends the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
