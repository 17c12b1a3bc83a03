"""bench.cpu: the process CPU reading every benchmark uses for the emulator's share."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from bench.cpu import process_cpu


def test_it_counts_this_process_s_cpu_as_process_time_does() -> None:
    before, here = process_cpu(os.getpid()), time.process_time()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    spent = time.process_time() - here
    assert process_cpu(os.getpid()) - before == pytest.approx(spent, abs=0.05)


def test_another_process_is_read_and_a_gone_one_raises() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        assert process_cpu(child.pid) >= 0.0
    finally:
        child.kill()
        child.wait()
    with pytest.raises(OSError):
        process_cpu(child.pid)
