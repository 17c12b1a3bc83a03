"""What the tests of the worker's fault policy run it on: an in-memory queue (``FakeQueue``), a
manual clock and a stop event whose waits move it, a memory sink that fails the updates it is
told to, and a stand-in reconcile schedule; ``Rig`` holds them with the worker (the ``rig``
fixture, in the unit conftest)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import ConfigurationError
from bucketsync.runtimes.worker import Worker
from bucketsync.sinks.memory import MemorySink
from tests.unit.fakes import FakeBucket, to_body

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/q"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Stop(threading.Event):
    """A stop event whose waits pass on the manual clock instead of sleeping, the heartbeat
    beating as its thread would (every 5 s of that clock)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.worker: Worker | None = None

    def wait(self, timeout: float | None = None) -> bool:
        left = timeout or 0.0
        while left > 0:
            tick = min(left, 5.0)
            self.clock.now += tick
            left -= tick
            if self.worker is not None and self.worker.heartbeat is not None:
                self.worker.heartbeat.beat()
        return self.is_set()


@dataclass
class Message:
    body: str
    receives: int = 0
    visible_at: float = 0.0
    handle: str = ""


class FakeQueue:
    """Just enough SQS: receive (counting), delete, visibility changes, one attribute."""

    def __init__(self, clock: Callable[[], float], visibility: int = 30) -> None:
        self.clock = clock
        self.visibility = visibility
        self.messages: dict[str, Message] = {}
        self.receives: list[list[str]] = []
        self.changes: list[tuple[str, int]] = []  # (message id, seconds)
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def send(self, body: str) -> str:
        message_id = f"m{next(self._ids)}"
        self.messages[message_id] = Message(body)
        return message_id

    def receive_message(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            now = self.clock()
            taken = [(i, m) for i, m in self.messages.items() if m.visible_at <= now][
                : request["MaxNumberOfMessages"]
            ]
            out: list[dict[str, Any]] = []
            for message_id, message in taken:
                message.receives += 1
                message.handle = f"{message_id}#{message.receives}"
                message.visible_at = now + request.get("VisibilityTimeout", self.visibility)
                out.append(
                    {
                        "MessageId": message_id,
                        "ReceiptHandle": message.handle,
                        "Body": message.body,
                        "Attributes": {"ApproximateReceiveCount": str(message.receives)},
                    }
                )
            self.receives.append([m["MessageId"] for m in out])
            return {"Messages": out} if out else {}

    def _find(self, handle: str) -> tuple[str, Message] | None:
        for message_id, message in self.messages.items():
            if message.handle == handle:
                return message_id, message
        return None

    def delete_message_batch(self, QueueUrl: str, Entries: list[Any]) -> dict[str, Any]:
        with self._lock:
            for entry in Entries:
                found = self._find(entry["ReceiptHandle"])
                if found:
                    del self.messages[found[0]]
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def change_message_visibility_batch(
        self,
        QueueUrl: str,
        Entries: list[Any],
    ) -> dict[str, Any]:
        ok, failed = [], []
        with self._lock:
            for entry in Entries:
                found = self._find(entry["ReceiptHandle"])
                if found is None:
                    failed.append({"Id": entry["Id"], "Code": "ReceiptHandleIsInvalid"})
                    continue
                found[1].visible_at = self.clock() + entry["VisibilityTimeout"]
                self.changes.append((found[0], entry["VisibilityTimeout"]))
                ok.append({"Id": entry["Id"]})
        return {"Successful": ok, "Failed": failed}

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {"Attributes": {"VisibilityTimeout": str(self.visibility)}}

    def received(self, message_id: str) -> int:
        return sum(batch.count(message_id) for batch in self.receives)


class FaultySink(MemorySink):
    """A memory sink that fails the updates ``fails`` names with the error it returns."""

    def __init__(self) -> None:
        super().__init__()
        self.fails: Callable[[Update], BaseException | None] = lambda update: None
        self.calls = 0

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]:
        self.calls += 1
        errors = [self.fails(u) for u in updates]
        applied = iter(super().apply([u for u, e in zip(updates, errors, strict=True) if not e]))
        return [error or next(applied) for error in errors]


class Schedule:
    """A stand-in reconcile schedule: counts triggers."""

    interval = None

    def __init__(self) -> None:
        self.triggers: list[str] = []

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def trigger(self, why: str) -> None:
        self.triggers.append(why)


@dataclass
class Rig:
    clock: Clock
    queue: FakeQueue
    sink: FaultySink
    bucket: FakeBucket
    worker: Worker
    stop: Stop
    schedule: Schedule

    def put(self, key: str) -> str:
        return self.queue.send(to_body(self.bucket.put(key, key.encode())))

    def steps(self, count: int) -> None:
        for _ in range(count):
            self.worker.poll_once(0, stop=self.stop)


def missing_table(update: Update) -> BaseException:
    return ConfigurationError("PutItem: ResourceNotFoundException: Requested resource not found")
