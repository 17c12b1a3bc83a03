"""One partial-batch flow for the Lambda handler and the local worker, as a template method.

``PartialBatch.process`` hands the whole batch to the engine in one call (it collapses the
changes per key and batches the conditional writes, so nothing can be done a message at a time:
why Powertools' per-record ``BatchProcessor`` is not used), then sorts the messages by what
became of them (``errors.fault_of``) and hands each group to the runtime's hook:

    group                                              Lambda handler          worker
    applied                               _consume     (Lambda deletes them)   deleted
    failed for its own reason (poison),   _fail_alone  a batchItemFailures     handed back
      or checkpointed (UnfinishedError)                entry                   at once
    failed for a fault of ours            _keep        an entry, and hidden    held, and
      (configuration, transient)                       for its backoff         retried

A runtime supplies only that and how one of its messages is read (``_message_id``, ``_body``,
``_receives``). Poison fails alone, so the queue's redrive policy takes it to the DLQ; a kept
message must not be spent on receives. Whether the batch then fails whole is the runtime's
call, on ``Settled.worst``: the Lambda handler raises (it cannot wait), the worker pauses, or
stops when it drains.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bucketsync.engine.pipeline import BatchReport, Engine, Message
from bucketsync.errors import Fault, UnfinishedError, fault_of
from bucketsync.runtimes.visibility import backoff_seconds

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class Kept(Generic[M]):
    """A message failed for a fault of ours."""

    message: M
    error: BaseException
    fault: Fault


@dataclass(frozen=True)
class Settled(Generic[M]):
    """What became of a batch's messages, each group in batch order."""

    messages: Sequence[M]
    report: BatchReport
    done: list[M]
    alone: list[M]
    kept: list[Kept[M]]

    def worst(self) -> Kept[M] | None:
        """The first message kept for the worst fault, the one to name: a configuration fault
        outranks a transient one (it lasts until someone acts)."""
        lasting = (k for k in self.kept if k.fault is Fault.CONFIGURATION)
        return next(lasting, self.kept[0] if self.kept else None)


class PartialBatch(ABC, Generic[M]):
    """The flow; a subclass reads its runtime's messages and acts on each group."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def process(self, messages: Sequence[M]) -> Settled[M]:
        """Apply ``messages`` as one batch and hand each group to its hook."""
        report = self.engine.process_messages(
            Message(self._message_id(m), self._body(m)) for m in messages
        )
        done: list[M] = []
        alone: list[M] = []
        kept: list[Kept[M]] = []
        for message in messages:
            error = report.failures.get(self._message_id(message))
            if error is None:
                done.append(message)
                continue
            fault = fault_of(error)
            # A checkpointed load is no fault: its next delivery resumes it, unhindered.
            if fault.ours and not isinstance(error, UnfinishedError):
                kept.append(Kept(message, error, fault))
            else:
                alone.append(message)
        self._consume(done)
        self._fail_alone(alone)
        self._keep([k.message for k in kept])
        return Settled(messages, report, done, alone, kept)

    def backoff(self, message: M) -> int:
        """Seconds a message failed for a fault of ours waits before SQS hands it out again."""
        return backoff_seconds(self._receives(message))

    # -- how a message is read -------------------------------------------------------------

    @abstractmethod
    def _message_id(self, message: M) -> str: ...

    @abstractmethod
    def _body(self, message: M) -> str: ...

    @abstractmethod
    def _receives(self, message: M) -> int:
        """How many times SQS handed the message out, this time included."""

    # -- what each group becomes (each may be empty) -----------------------------------------

    @abstractmethod
    def _consume(self, done: Sequence[M]) -> None:
        """Applied: the queue may forget them."""

    @abstractmethod
    def _fail_alone(self, failed: Sequence[M]) -> None:
        """Failed for their own reason: back to the queue as they are, to its redrive policy."""

    @abstractmethod
    def _keep(self, kept: Sequence[M]) -> None:
        """Failed for a fault of ours: not to be spent on receives while the fault lasts."""
