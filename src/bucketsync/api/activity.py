"""What the mirror did lately, for the status page: events per minute, the lag from an event's
time to its file on disk, the last changes and the last errors.

Everything is bounded: an hour of per-minute buckets (their lag kept as count, sum and
maximum, not as samples) and the last ``KEPT`` changes and errors, so memory stays the same
however busy the bucket is. It is fed from the engine's side (``RecordingSink`` wraps the
mirror the engine writes to, so HTTP notifications and the queue worker are both seen) and
by the service (refused notifications, queue and sync failures). Every method is thread-safe:
the engine settles updates on the mirror's pool threads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bucketsync.api.models import ActivityChange, ActivityError, ActivityMinute
from bucketsync.engine.state import Held
from bucketsync.engine.update import Outcome, Update
from bucketsync.sinks.mirror import MirrorSink

MINUTES = 60  # the chart's window: the last hour
KEPT = 50  # recent changes, and recent errors, each
MAX_TEXT = 1024  # S3's longest key; an error message is cut there too


@dataclass
class _Minute:
    start: int  # Unix time of the minute's first second
    events: int = 0
    applied: int = 0
    failed: int = 0
    lag_count: int = 0
    lag_sum: float = 0.0
    lag_max: float = 0.0

    def view(self) -> ActivityMinute:
        return ActivityMinute(
            start=datetime.fromtimestamp(self.start, UTC),
            events=self.events,
            applied=self.applied,
            failed=self.failed,
            lag_seconds_avg=round(self.lag_sum / self.lag_count, 3) if self.lag_count else None,
            lag_seconds_max=round(self.lag_max, 3) if self.lag_count else None,
        )


class Activity:
    def __init__(self, *, minutes: int = MINUTES, kept: int = KEPT) -> None:
        self._lock = threading.Lock()
        self._minutes: deque[_Minute] = deque(maxlen=minutes)
        self._changes: deque[ActivityChange] = deque(maxlen=kept)
        self._errors: deque[ActivityError] = deque(maxlen=kept)
        self._window = minutes

    def settled(self, update: Update, result: Outcome | BaseException, at: float) -> None:
        """One key's update as the mirror finished it, at ``at`` (Unix time)."""
        change = update.change
        if result is Outcome.CONFIRM:
            return  # the engine looks the key up and applies it again: counted then
        failed = isinstance(result, BaseException)
        lag = None
        if result is Outcome.APPLIED and change is not None and change.event_time is not None:
            # Clocks differ by a little: an event "from the future" is a lag of zero.
            lag = max(0.0, at - change.event_time.timestamp())
        entry = ActivityChange(
            at=datetime.fromtimestamp(at, UTC),
            key=_cut(update.key),
            action="download" if update.state.present else "delete",
            outcome="failed" if isinstance(result, BaseException) else result.value,
            event=change.event_name if change is not None else None,
            lag_seconds=round(lag, 3) if lag is not None else None,
        )
        with self._lock:
            minute = self._minute(at)
            minute.events += max(1, len(update.changes))
            minute.failed += failed
            minute.applied += result is Outcome.APPLIED
            if lag is not None:
                minute.lag_count += 1
                minute.lag_sum += lag
                minute.lag_max = max(minute.lag_max, lag)
            self._changes.append(entry)
            if failed:
                self._errors.append(
                    ActivityError(at=entry.at, source="mirror", key=entry.key, message=_cut(result))
                )

    def error(self, source: str, message: object, *, key: str | None = None) -> None:
        entry = ActivityError(
            at=datetime.now(UTC),
            source=source,
            key=_cut(key) if key is not None else None,
            message=_cut(message),
        )
        with self._lock:
            self._errors.append(entry)

    def minutes(self, now: float | None = None) -> list[ActivityMinute]:
        """Every minute of the window, oldest first; quiet minutes as zeros."""
        current = _floor(time.time() if now is None else now)
        first = current - 60 * (self._window - 1)
        with self._lock:
            held = {minute.start: minute.view() for minute in self._minutes}
        return [held.get(start) or _Minute(start).view() for start in range(first, current + 1, 60)]

    def changes(self) -> list[ActivityChange]:
        """The most recent first."""
        with self._lock:
            return list(reversed(self._changes))

    def errors(self) -> list[ActivityError]:
        """The most recent first."""
        with self._lock:
            return list(reversed(self._errors))

    def _minute(self, at: float) -> _Minute:
        start = _floor(at)
        if self._minutes and self._minutes[-1].start == start:
            return self._minutes[-1]
        for minute in reversed(self._minutes):  # a late settle, from a minute already past
            if minute.start == start:
                return minute
        fresh = _Minute(start)
        if self._minutes and start < self._minutes[-1].start:
            return fresh  # older than the window's buckets hold: counted nowhere
        self._minutes.append(fresh)
        return fresh


class RecordingSink:
    """The mirror, telling ``activity`` how each update it was handed ended.

    The time taken is when ``apply`` returns, so a lag is at most one batch longer than the
    moment the file was renamed into place. Everything else is the mirror's own.
    """

    def __init__(self, sink: MirrorSink, activity: Activity) -> None:
        self.inner = sink
        self.activity = activity
        self.name = sink.name

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]:
        results = self.inner.apply(updates)
        now = time.time()
        for update, result in zip(updates, results, strict=False):
            self.activity.settled(update, result, now)
        return results

    def close(self) -> None:
        self.inner.close()

    # Listable, so reconcile (the demo's) can march over the engine's sinks as before.
    def listing(
        self, bucket: str, prefix: str = "", start_after: str = "", upto: str | None = None
    ) -> Iterator[Held]:
        return self.inner.listing(bucket, prefix, start_after, upto)

    def in_scope(self, bucket: str, key: str) -> bool:
        return self.inner.in_scope(bucket, key)


def _floor(at: float) -> int:
    return int(at // 60) * 60


def _cut(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
