"""A worker killed again and again while it holds messages for a fault of ours (issue 15;
found by the chaos suite's full run).

A held message costs no receive while its worker lives; but each time a worker dies, the
messages it held are received again by the next one, one more receive each. Killed often
enough during a pause (a crash loop, a deploy, the chaos suite's SIGKILLs), a real event
reached the DLQ though no fault of its own ever failed it.
"""

from __future__ import annotations

import time

from tests.integration.test_worker_faults import dead_letters, put_objects, quick, wait_until

from bucketsync.aws.clients import Clients
from bucketsync.local.stack import Stack, ensure_stack, queue_counts
from bucketsync.reconcile import catalog_fingerprints, compare, list_bucket
from bucketsync.runtimes.build import build_worker
from bucketsync.settings import Settings
from bucketsync.sinks.catalog.reader import CatalogReader
from bucketsync.sinks.tables import table_definition


def test_held_messages_survive_any_number_of_worker_deaths(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN 2 uploads on a queue whose DLQ takes a message after 2 receives, and a table that
    # does not exist yet (a fault of ours: every worker holds the messages and pauses)
    ensure_stack(clients, stack.names, max_receive_count=2, visibility_timeout=1)
    clients.sqs.purge_queue(QueueUrl=stack.queue_url)
    put_objects(clients, stack, 2)
    wait_until(lambda: queue_counts(clients, stack.queue_url)[0] == 2, 10, "2 events queued")
    table = f"{stack.table}-later"
    later = settings.override(table=table)
    # WHEN 5 workers in turn take them, hold them, and die without handing them back
    for life in range(5):
        worker = quick(build_worker(later, Clients(later), threads=1))
        worker.renewal.delay = 1  # a renewed copy hidden 1 s, not the pause's 60
        took = 0
        deadline = time.monotonic() + 10
        while took < 2 and time.monotonic() < deadline:
            took += worker.poll_once(1).received
        assert dead_letters(clients, stack) == 0, f"life {life}: {took} taken, the rest in the DLQ"
        assert worker.pause.paused, f"life {life}: the worker did not pause"
        assert worker.heartbeat is not None
        worker.heartbeat.stop()  # killed: no heartbeat, no hand-back
        worker.engine.close()
        wait_until(lambda: sum(queue_counts(clients, stack.queue_url)) == 2, 10, "visible again")
        print(f"life {life}: took {took}, DLQ {dead_letters(clients, stack)}")
    # THEN no event reached the DLQ
    assert dead_letters(clients, stack) == 0
    # ... and once the table exists, one more worker applies both
    clients.dynamodb.create_table(**table_definition(table))
    build_worker(later, Clients(later), threads=1).drain(timeout=30)
    drift = compare(
        dict(list_bucket(clients.s3, stack.bucket)),
        catalog_fingerprints(CatalogReader(clients.dynamodb, table).list(stack.bucket)),
    )
    assert drift.in_sync, drift
    assert dead_letters(clients, stack) == 0
