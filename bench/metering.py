"""Driving and measuring one run of the throughput benchmark (``bench/throughput.py``): a
handler fed SQS batches, or a worker fed its queue, and what the run cost in requests, write
units and CPU time (its own, inside boto3, and the emulator's)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.cost import WriteUnitCounter
from bench.cpu import process_cpu
from bench.fake_aws import attach
from bucketsync.aws.clients import Clients
from bucketsync.aws.request_counter import RequestCounter
from bucketsync.runtimes.worker import Worker
from bucketsync.settings import Settings

Batch = list[dict[str, Any]]
BACKLOG = 100  # messages the feeder keeps waiting in the worker's queue


@dataclass
class Result:
    name: str
    events: int
    seconds: float
    cpu_seconds: float
    counts: dict[str, int]
    write_units: float
    server_cpu: float | None = None  # the emulator process's CPU seconds during the run
    sdk_cpu: float = 0.0  # of cpu_seconds, inside boto3 calls

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def requests_per_1000(self) -> float:
        return sum(self.counts.values()) * 1000 / self.events

    def line(self, baseline: Result | None) -> str:
        ratio = f"{self.events_per_s / baseline.events_per_s:5.2f}x" if baseline else "     "
        server = ""
        if self.server_cpu is not None:
            requests = max(1, sum(self.counts.values()))
            server = f"  emulator {self.server_cpu * 1e3 / requests:4.1f} ms CPU/request"
        return (
            f"  {self.name:30} {self.events_per_s:8.1f} events/s {ratio}  "
            f"{self.requests_per_1000:6.0f} req/1k  {self.write_units * 1000 / self.events:5.0f} "
            f"WRU/1k  CPU/event {self.cpu_seconds * 1e3 / self.events:4.2f} ms "
            f"(own {(self.cpu_seconds - self.sdk_cpu) * 1e3 / self.events:4.2f}){server}  "
            f"{self.counts}"
        )


class SdkCpu:
    """CPU time spent inside boto3 calls (serialise, sign, send, parse), summed over threads:
    what is left of the process's CPU is bucketsync's own (and Powertools')."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._local = threading.local()

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params", self._start)
        client.meta.events.register("after-call", self._stop)
        client.meta.events.register("after-call-error", self._stop)

    def _start(self, **_: Any) -> None:
        self._local.started = time.thread_time()

    def _stop(self, **_: Any) -> None:
        spent = time.thread_time() - self._local.started
        with self._lock:
            self.seconds += spent


class Meter:
    """Requests and write units made by counted clients, and this process's CPU time."""

    def __init__(self, server_pid: int | None = None) -> None:
        self.requests = RequestCounter()
        self.units = WriteUnitCounter()
        self.sdk = SdkCpu()
        self.server_pid = server_pid

    def clients(self, settings: Settings, hook: Any = None) -> Clients:
        clients = Clients(settings, self.requests)
        self.units.attach(clients.dynamodb)
        for client in (clients.s3, clients.dynamodb, clients.sqs):
            self.sdk.attach(client)
        if hook is not None:
            attach([clients.s3, clients.dynamodb, clients.sqs], hook)
        return clients

    def measure(self, name: str, events: int, work: Callable[[], float]) -> Result:
        """Run ``work``, which returns CPU seconds spent on the benchmark's own behalf."""
        self.requests.reset()
        self.units.reset()
        self.sdk.seconds = 0.0
        server = cpu_if_running(self.server_pid)
        cpu, started = time.process_time(), time.perf_counter()
        not_ours = work()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu - not_ours
        server_after = cpu_if_running(self.server_pid)
        server_cpu = None if server is None or server_after is None else server_after - server
        return Result(
            name,
            events,
            seconds,
            cpu,
            self.requests.snapshot(),
            self.units.units,
            server_cpu,
            self.sdk.seconds,
        )


def cpu_if_running(pid: int | None) -> float | None:
    """The server's CPU seconds so far; None when there is no server process to read."""
    if pid is None:
        return None
    try:
        return process_cpu(pid)
    except OSError:
        return None


def run_handler(handle: Callable[[Batch], None], batches: list[Batch]) -> Callable[[], float]:
    def work() -> float:
        for batch in batches:
            handle(batch)
        return 0.0

    return work


Feed = Callable[[threading.Event, list[float]], None]


def run_worker(worker: Worker, events: int, feed: Feed | None = None) -> Callable[[], float]:
    """Run the worker until it applied ``events`` messages; ``feed`` fills its queue meanwhile
    (playing S3's part: its CPU time is reported back, to be left out of the worker's)."""

    def work() -> float:
        stop = threading.Event()
        feeder_cpu: list[float] = []
        feeder = threading.Thread(target=feed, args=(stop, feeder_cpu)) if feed else None
        if feeder:
            feeder.start()
        runner = threading.Thread(target=worker.run, args=(stop,))
        runner.start()
        while worker.stats.succeeded + worker.stats.failed < events and runner.is_alive():
            time.sleep(0.005)
        stop.set()
        runner.join()
        if feeder:
            feeder.join()
        assert worker.stats.failed == 0, worker.stats
        return sum(feeder_cpu)

    return work


def sqs_feeder(clients: Clients, queue_url: str, bodies: list[str]) -> Feed:
    """Send the bodies in batches of 10, keeping at most BACKLOG waiting: moto's ReceiveMessage
    scans the whole queue, so a deep backlog would measure that scan, not the worker."""

    def feed(stop: threading.Event, cpu: list[float]) -> None:
        for start in range(0, len(bodies), 10):
            while not stop.is_set():
                attrs = clients.sqs.get_queue_attributes(
                    QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]
                if int(attrs["ApproximateNumberOfMessages"]) < BACKLOG:
                    break
                time.sleep(0.05)
            clients.sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(n), "MessageBody": body}
                    for n, body in enumerate(bodies[start : start + 10])
                ],
            )
        cpu.append(time.thread_time())

    return feed
