"""``bucketsync worker``: poll SQS and apply every change until SIGINT/SIGTERM.

A fault that is ours (a missing table, a full mirror disk) pauses it, saying why, until it
clears; with ``--drain`` a configuration fault stops it instead: exit status 78 (EX_CONFIG).
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated

import typer

from bucketsync.runtimes.build import build_when_ready, build_worker
from bucketsync.runtimes.stopping import install_signal_handlers
from bucketsync.settings import Settings

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
    stop = threading.Event()
    install_signal_handlers(stop)
    worker = build_when_ready(lambda: build_worker(settings), stop)
    if worker is None:  # stopped while it waited to start: nothing was taken
        return
    try:
        if drain:
            # A configuration fault raises here (exit 78, one line saying why): a one-shot
            # run stops rather than wait for someone to fix it.
            stats = worker.drain(timeout=None, stop=stop)
        else:
            log.info("polling %s with %d threads", settings.queue_url, settings.worker_threads)
            if worker.reconcile is not None and worker.reconcile.interval is not None:
                hours = worker.reconcile.interval / 3600
                log.info("reconciling %s at start and every %g h", settings.bucket, hours)
            stats = worker.run(stop)
    finally:
        worker.engine.close()
    typer.echo(
        f"received {stats.received}, applied {stats.succeeded}, failed {stats.failed}",
        err=True,
    )
