"""Counting the AWS requests a run makes (each HTTP attempt, retries included)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class RequestCounter:
    """Attach to clients with :meth:`attach`; read ``counts`` as ``{"s3.HeadObject": n}``."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-send", self._on_send)

    def _on_send(self, **kwargs: Any) -> None:
        # event_name is "before-send.<service>.<Operation>"
        _, service, operation = str(kwargs.get("event_name", "..")).split(".", 2)
        with self._lock:
            self.counts[f"{service}.{operation}"] += 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self.counts.items()))

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
