"""A live line of what a running worker processed, for ``bucketsync local up``.

On a terminal it is one line kept at the bottom, redrawn as the counts change, with the log
lines printed above it; piped, it is a plain line each time the counts changed (at most one a
second), so a log file shows the progress without a screenful of redraws.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from types import TracebackType
from typing import IO, Protocol

from rich.console import Console
from rich.live import Live
from rich.text import Text

from bucketsync.logs import SERVICE

REDRAW_SECONDS = 0.25
PRINT_SECONDS = 1.0


class _Stats(Protocol):
    received: int
    succeeded: int
    failed: int


class _Worker(Protocol):
    @property
    def stats(self) -> _Stats: ...


class Processed:
    def __init__(self, console: Console, worker: _Worker) -> None:
        self._console = console
        self._worker = worker
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="bucketsync-processed")
        self._live: Live | None = None
        self._streams: list[tuple[logging.StreamHandler[IO[str]], IO[str]]] = []
        self._last_change: float | None = None

    def __enter__(self) -> Processed:
        if self._console.is_terminal:
            self._live = Live(
                self._line(), console=self._console, refresh_per_second=4, transient=False
            )
            self._live.start()
            # Our log handler holds the stderr it was given; pointed at Live's proxy, a log
            # line goes above the live line instead of through it.
            for handler in logging.getLogger(SERVICE).handlers:
                if isinstance(handler, logging.StreamHandler):
                    previous = handler.setStream(sys.stderr)
                    if previous is not None:
                        self._streams.append((handler, previous))
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()
        for handler, stream in self._streams:
            handler.setStream(stream)
        if self._live is not None:
            self._live.update(self._line(), refresh=True)
            self._live.stop()

    def _follow(self) -> None:
        shown = self._counts()
        printed = 0.0
        while not self._done.wait(REDRAW_SECONDS):
            counts = self._counts()
            if counts != shown:
                self._last_change = time.time()
            if self._live is not None:
                self._live.update(self._line())
                shown = counts
            elif counts != shown and time.monotonic() - printed >= PRINT_SECONDS:
                self._console.print(self._line(), highlight=False, soft_wrap=True)
                shown, printed = counts, time.monotonic()

    def _counts(self) -> tuple[int, int, int]:
        stats = self._worker.stats
        return stats.received, stats.succeeded, stats.failed

    def _line(self) -> Text:
        received, applied, failed = self._counts()
        line = Text(f"processed messages: {received} received, {applied} applied, ")
        line.append(f"{failed} failed", style="red" if failed else "")
        if self._last_change is not None:
            line.append(
                f" (last at {time.strftime('%H:%M:%S', time.localtime(self._last_change))})"
            )
        return line
