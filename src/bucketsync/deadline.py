"""How long the current invocation may still run: set by the Lambda handler, read by long work.

A context variable, so a runtime can set it without the sinks importing the runtime. Unset
(the worker, the CLI): no deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("bucketsync_deadline", default=None)


@contextmanager
def deadline_in(seconds: float | None) -> Iterator[None]:
    """Within the block, ``remaining()`` counts down from ``seconds`` (None: no deadline)."""
    token = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left before the deadline, or None when there is none."""
    until = _deadline.get()
    return None if until is None else until - time.monotonic()
