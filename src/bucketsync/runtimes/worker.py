"""The local worker: long-polls SQS with a few threads and applies each batch through the same
partial-batch flow as the Lambda handler (``runtimes.processor``), its messages as SQS gives them.

A message is deleted only once the engine applied it. One that failed goes where its fault
(``errors.fault_of``) sends it:

* the message's own (poison): handed back at once, so the queue's redrive policy moves it to
  the DLQ after ``maxReceiveCount`` receives while the rest keep flowing;
* ours (a configuration or a transient fault: a missing table, a full disk, throttling): held.
  The worker keeps it out of sight and tries it again itself, with backoff, while it takes no
  new message (``runtimes.pause``); its receive count does not grow, so the fault reaches no
  DLQ however long it lasts. ``drain`` (a one-shot run) stops on a configuration fault instead,
  saying why, and hands the messages back.

Every message taken is kept out of sight by a heartbeat until it is deleted or handed back
(``runtimes.visibility``), so a batch slower than the visibility timeout is not handed to
another consumer meanwhile. After a lasting fault clears, the worker's reconcile runs once
(``runtimes.schedule``), as it does on its interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bucketsync.aws.queues import change_visibility, delete_messages, receive
from bucketsync.engine.pipeline import Engine
from bucketsync.errors import ConfigurationError, Fault
from bucketsync.runtimes.pause import Action, Pause, Resumed
from bucketsync.runtimes.processor import Kept, PartialBatch
from bucketsync.runtimes.renew import Renewal
from bucketsync.runtimes.schedule import ReconcileSchedule
from bucketsync.runtimes.stopping import InFlight
from bucketsync.runtimes.visibility import Heartbeat, queue_visibility_timeout

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

LASTING_SECONDS = 60.0  # a pause this long was no blip: reconcile once it is over
PAUSED_WAIT_SECONDS = 5.0
STOP_GRACE_SECONDS = 0.5  # after a stop, for a receive that returned meanwhile to hand back
SqsMessage = dict[str, Any]  # a ReceiveMessage entry: MessageId, ReceiptHandle, Body, Attributes


@dataclass
class WorkerStats:
    received: int = 0
    succeeded: int = 0
    failed: int = 0  # handed back unapplied: poison, or given up on
    empty_polls: int = 0

    def add(self, other: WorkerStats) -> None:
        self.received += other.received
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.empty_polls += other.empty_polls


class Worker(PartialBatch[SqsMessage]):
    def __init__(
        self,
        engine: Engine,
        sqs: SQSClient,
        queue_url: str,
        *,
        threads: int = 4,
        wait_time_seconds: int = 20,
        max_messages: int = 10,
        visibility_timeout: int | None = None,
        reconcile: ReconcileSchedule | None = None,
        context: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``reconcile``: run on its schedule by ``run``, and after a lasting fault clears.
        ``context`` says where the worker writes (table, mirror), for the lines naming a fault."""
        super().__init__(engine)
        self.sqs = sqs
        self.queue_url = queue_url
        self.threads = threads
        self.wait_time_seconds = wait_time_seconds
        self.max_messages = max_messages
        self.visibility_timeout = visibility_timeout  # None: the queue's own
        self.reconcile = reconcile
        self.context = context
        self.stats = WorkerStats()
        self.pause = Pause(clock=clock)
        self.renewal = Renewal(sqs, queue_url, delay=int(self.pause.retry.cap))
        self.lasting_seconds = LASTING_SECONDS
        self._clock = clock
        self._lock = threading.Lock()
        self._held: list[SqsMessage] = []  # failed for a fault of ours, kept out of sight
        self._heartbeat: Heartbeat | None = None
        self._draining = False
        self._nap = threading.Event()  # never set: a pause's wait when no stop is given
        self.inflight = InFlight()

    # -- one step ---------------------------------------------------------------------------

    def poll_once(
        self, wait_time_seconds: int | None = None, *, stop: threading.Event | None = None
    ) -> WorkerStats:
        """One step: receive a batch, apply it, delete what succeeded (this cycle's counts).

        Paused, it tries the held messages again, or takes a probe batch, or waits until the
        next try is due (or ``stop`` is set): the long poll at most, as a receive would."""
        wait = self.wait_time_seconds if wait_time_seconds is None else wait_time_seconds
        action = self.pause.take()
        if not isinstance(action, Action):
            # Asked again within seconds: another thread's retry may resume the worker first.
            # Without a stop event the caller loops itself: no longer than a long poll.
            most = PAUSED_WAIT_SECONDS if stop is not None else min(PAUSED_WAIT_SECONDS, wait)
            (stop or self._nap).wait(min(action, max(most, 1.0)))
            return WorkerStats()
        try:
            if action is Action.RETRY:
                return self._retry_held()
            return self._receive(wait, probe=action is Action.PROBE, stop=stop)
        finally:
            if action is not Action.RECEIVE:
                self.pause.idle()

    def _receive(
        self, wait: int, *, probe: bool, stop: threading.Event | None = None
    ) -> WorkerStats:
        cycle = WorkerStats()
        began = self._clock()  # the visibility timeout runs from the receive, at the latest
        messages = receive(
            self.sqs,
            self.queue_url,
            count=self.max_messages,
            wait=wait,
            visibility=self.visibility_timeout,
            attributes=("ApproximateReceiveCount", "SentTimestamp"),
            message_attributes=False,
        )
        if not messages:
            if probe:
                self.pause.probed()
            cycle.empty_polls = 1
            self._merge(cycle)
            return cycle
        if not self.inflight.claim(stop):  # received after the stop: not ours to apply now
            self._hand_back([(m, 0) for m in messages])
            return cycle
        try:
            self._beat().track((m["ReceiptHandle"] for m in messages), received=began)
            cycle.received = len(messages)
            self._settle(messages, cycle, probe=probe)
        finally:
            self._merge(cycle)
            self.inflight.release()
        return cycle

    def _settle(
        self,
        messages: Sequence[SqsMessage],
        cycle: WorkerStats,
        *,
        probe: bool = False,
        retry: bool = False,
    ) -> None:
        """Apply a batch (``process``: delete what went through, hand poison back at once, hold
        what failed for us), then tell the pause what that says about the fault."""
        settled = self.process(messages)
        cycle.succeeded += len(settled.done)
        cycle.failed += len(settled.alone)
        if (worst := settled.worst()) is not None:
            self._pause_for(worst)
        elif probe and settled.done:
            # New messages go through while the held ones failed: the fault was theirs.
            cycle.failed += self._give_back()
            self._resume("new messages go through; the held ones were handed back")
        elif probe:
            self.pause.probed()
        elif retry and not self._held:
            self._resume("the held messages went through")

    def _pause_for(self, worst: Kept[SqsMessage]) -> None:
        """Pause for the worst fault messages just held (``_keep``) failed for; ``drain`` stops
        on a configuration fault instead."""
        error, fault = worst.error, worst.fault
        reason = f"{error} [{self.context}]" if self.context else str(error)
        with self._lock:
            held = len(self._held)
        if self._draining and fault is Fault.CONFIGURATION:
            raise ConfigurationError(
                f"worker stopped, {held} message(s) handed back to the queue: {reason}"
            )
        self.pause.failed(fault, reason, held)

    def _retry_held(self) -> WorkerStats:
        cycle = WorkerStats()
        with self._lock:
            messages, self._held = self._held, []
        lost = self._beat().lost()
        if lost:
            log.warning("%d held message(s) are back in the queue (12 hours held)", len(lost))
            self._beat().untrack(lost)
            messages = [m for m in messages if m["ReceiptHandle"] not in lost]
        if messages:
            self.inflight.claim(None)  # held already: a stop waits for this retry too
            try:
                self._settle(messages, cycle, retry=True)
            finally:
                self.inflight.release()
        else:
            self._resume("no message is held any more")
        self._merge(cycle)
        return cycle

    def _give_back(self) -> int:
        """Hand every held message back to SQS with its backoff; how many there were."""
        with self._lock:
            messages, self._held = self._held, []
        self._hand_back([(m, self.backoff(m)) for m in messages])
        if messages:
            log.warning("%d held message(s) handed back to SQS with backoff", len(messages))
        return len(messages)

    def _resume(self, why: str) -> None:
        resumed = self.pause.resume(why)
        if resumed is not None and self._lasting(resumed) and self.reconcile is not None:
            self.reconcile.trigger(f"the {resumed.fault.value} fault cleared")

    def _lasting(self, resumed: Resumed) -> bool:
        return resumed.fault is Fault.CONFIGURATION or resumed.seconds >= self.lasting_seconds

    # -- the batch's hooks: an SQS message, and what each outcome becomes ----------------------

    def _message_id(self, message: SqsMessage) -> str:
        return str(message["MessageId"])

    def _body(self, message: SqsMessage) -> str:
        return str(message.get("Body", ""))

    def _receives(self, message: SqsMessage) -> int:
        try:
            return int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        except ValueError:
            return 1

    def _consume(self, done: Sequence[SqsMessage]) -> None:
        handles = [m["ReceiptHandle"] for m in done]
        delete_messages(self.sqs, self.queue_url, handles)
        self._beat().untrack(handles)

    def _fail_alone(self, failed: Sequence[SqsMessage]) -> None:
        self._hand_back([(m, 0) for m in failed])  # no retry fixes it: to the DLQ quickly

    def _keep(self, kept: Sequence[SqsMessage]) -> None:
        # Out of sight (the heartbeat) and tried again by this worker: no receive is spent,
        # while it lives. One death away from the DLQ, a message is sent again, fresh.
        due = [m for m in kept if self.renewal.due(self._receives(m))]
        renewed = self.renewal.renew(due)
        self._beat().untrack(renewed)
        with self._lock:
            self._held.extend(m for m in kept if m["ReceiptHandle"] not in renewed)

    def _hand_back(self, entries: Sequence[tuple[SqsMessage, int]]) -> None:
        """Make messages visible again after the seconds given (0: at once)."""
        if not entries:
            return
        beat = self._beat()
        beat.untrack(m["ReceiptHandle"] for m, _ in entries)
        change_visibility(
            self.sqs, self.queue_url, [(m["ReceiptHandle"], seconds) for m, seconds in entries]
        )

    @property
    def heartbeat(self) -> Heartbeat | None:
        """The heartbeat, once a message was received."""
        return self._heartbeat

    def _beat(self) -> Heartbeat:
        with self._lock:
            if self._heartbeat is None:
                self._heartbeat = Heartbeat(
                    self.sqs, self.queue_url, self._visibility_seconds(), clock=self._clock
                )
            return self._heartbeat

    def _visibility_seconds(self) -> int:
        """The timeout a receive gives: ours if set, else the queue's (asked once)."""
        if self.visibility_timeout is not None:
            return self.visibility_timeout
        return queue_visibility_timeout(self.sqs, self.queue_url)

    def _merge(self, cycle: WorkerStats) -> None:
        with self._lock:
            self.stats.add(cycle)

    def close(self) -> None:
        """Hand back what is held, unapplied (another worker may take it at once), and stop
        the heartbeat and the reconcile. ``run`` and ``drain`` do it as they end; a caller
        looping on ``poll_once`` itself calls it when it stops."""
        with self._lock:
            messages, self._held = self._held, []
        self._hand_back([(m, 0) for m in messages])
        if self._heartbeat is not None:
            self._heartbeat.stop()
        if self.reconcile is not None:
            self.reconcile.stop()

    # -- loops ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> WorkerStats:
        """Poll with ``threads`` threads until ``stop`` is set; in-flight batches finish."""
        if self.reconcile is not None:
            self.reconcile.start()
        # Daemons: a thread still waiting in a long poll when the stop comes is left behind
        # (``inflight``), so the stop takes as long as the batches being applied, not 20 s.
        workers = [
            threading.Thread(
                target=self._loop, args=(stop,), name=f"bucketsync-worker-{n}", daemon=True
            )
            for n in range(self.threads)
        ]
        try:
            for thread in workers:
                thread.start()
            while not stop.wait(1.0):
                if not any(thread.is_alive() for thread in workers):
                    break
            self.inflight.wait_idle()
            # A receive that returns just after the stop hands its messages back: a moment
            # for that, so they are visible again at once rather than after their timeout.
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for thread in workers:
                thread.join(max(0.0, deadline - time.monotonic()))
        finally:
            self.close()
        return self.stats

    def _loop(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                self.poll_once(stop=stop)
                failures = 0
            except Exception as exc:  # keep polling: a queue outage must not kill the worker
                failures += 1
                log.error("poll failed (%s in a row): %s", failures, exc)
                stop.wait(min(30.0, 0.5 * 2**failures))

    def drain(
        self,
        *,
        idle_polls: int = 2,
        wait_time_seconds: int = 1,
        timeout: float | None = 120.0,
        stop: threading.Event | None = None,
    ) -> WorkerStats:
        """Poll on this thread until the queue gave ``idle_polls`` empty answers in a row and
        nothing is held (or ``stop`` is set, or ``timeout`` seconds passed). A configuration
        fault raises ``ConfigurationError``, the messages handed back."""
        deadline = time.monotonic() + timeout if timeout is not None else float("inf")
        stop = stop or threading.Event()
        total = WorkerStats()
        idle = 0
        self._draining = True
        try:
            while (idle < idle_polls or self._held) and time.monotonic() < deadline:
                if stop.is_set():
                    break
                cycle = self.poll_once(wait_time_seconds, stop=stop)
                total.add(cycle)
                idle = idle + 1 if cycle.empty_polls and not self._held else 0
        finally:
            self._draining = False
            self.close()
        return total
