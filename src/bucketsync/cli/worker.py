"""``bucketsync worker``: poll SQS and apply every change until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import threading
from typing import Annotated

import typer

from bucketsync.runtimes.worker import install_signal_handlers
from bucketsync.settings import Settings
from bucketsync.wiring import build_worker

log = logging.getLogger(__name__)


def run(
    ctx: typer.Context,
    queue_url: Annotated[str | None, typer.Option(help="SQS queue to poll.")] = None,
    threads: Annotated[int | None, typer.Option(help="Batches in flight.")] = None,
    lean: Annotated[
        bool | None, typer.Option("--lean/--head", help="Skip HeadObject (needs sequencers).")
    ] = None,
    drain: Annotated[bool, typer.Option(help="Stop once the queue is empty.")] = False,
) -> None:
    """Long-poll SQS and keep the catalog in sync."""
    settings: Settings = ctx.obj
    settings = settings.override(queue_url=queue_url, worker_threads=threads, lean=lean)
    worker = build_worker(settings)
    stop = threading.Event()
    install_signal_handlers(stop)
    if drain:
        stats = worker.drain(timeout=None, stop=stop)
    else:
        log.info("polling %s with %d threads", settings.queue_url, settings.worker_threads)
        stats = worker.run(stop)
    worker.engine.close()
    typer.echo(
        f"received {stats.received}, applied {stats.succeeded}, failed {stats.failed}",
        err=True,
    )
