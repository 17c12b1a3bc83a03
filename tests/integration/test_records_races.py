"""Records loads racing each other, found by the chaos suite's full run (issue 15).

Each race is made deterministic: a botocore hook on the first loader's own client runs the
second load at the exact request where the race opens (``before-call``, so the request the
hook interrupts is sent afterwards, as a slow request would be). The emulator is real; only
the interleaving is chosen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.chaos.faults import Fault
from tests.chaos.proxy import FaultProxy

from bucketsync.aws.clients import Clients
from bucketsync.engine.ordering import observed
from bucketsync.errors import RetryableError
from bucketsync.local.emulator import Emulator
from bucketsync.local.stack import StackNames
from bucketsync.settings import Settings
from bucketsync.sinks.records.claims import ClaimKind
from bucketsync.sinks.records.job import Tuning
from bucketsync.sinks.records.loader import FileLoader
from bucketsync.sinks.records.reader import RecordsReader
from bucketsync.sinks.records.target import Target
from bucketsync.sinks.tables import table_definition

KEY = "data/f.jsonl"
V1 = b'{"i": 1}\n{"i": 2}\n{"i": 3}\n'
V2 = b'{"i": 10}\n{"i": 20}\n'
V3 = b'{"i": 100}\n'


@pytest.fixture
def table(clients: Clients, names: StackNames) -> Iterator[str]:
    name = f"{names.table}-rows"
    clients.dynamodb.create_table(**table_definition(name))
    clients.s3.create_bucket(Bucket=names.bucket)
    yield name
    clients.dynamodb.delete_table(TableName=name)


def loader(settings: Settings, tuning: Tuning | None = None) -> FileLoader:
    """A loader with clients of its own, so a hook on them touches no other loader."""
    own = Clients(settings)
    return FileLoader(own.s3, own.dynamodb, tuning=tuning)


def once_before(client: Any, operation: str, run: Callable[[], None]) -> None:
    """Run ``run`` just before ``client``'s next ``operation`` request is sent, once."""
    fired = False

    def hook(**_: Any) -> None:
        nonlocal fired
        if not fired:
            fired = True
            run()

    client.meta.events.register(
        f"before-call.{client.meta.service_model.service_name}.{operation}", hook
    )


def put(clients: Clients, bucket: str, body: bytes) -> str:
    return clients.s3.put_object(Bucket=bucket, Key=KEY, Body=body)["ETag"].strip('"')


def rows(clients: Clients, table: str, bucket: str) -> list[dict[str, Any]]:
    return list(RecordsReader(clients.dynamodb, table).rows(bucket, KEY))


def test_an_older_loads_sweep_leaves_the_rows_of_a_newer_generation(
    settings: Settings, clients: Clients, names: StackNames, table: str
) -> None:
    """Bug 1: after its flip released the lease, an older load's sweep deleted every row not
    of its generation, a newer generation's included, while the manifest said complete."""
    bucket, target = names.bucket, Target(table=table)
    etag1 = put(clients, bucket, V1)
    first = loader(settings)
    assert first.load(target, bucket, KEY, observed(time.time_ns()), etag=etag1).gen == 1
    # GIVEN version 2, loading as generation 2, whose sweep is slow to reach DynamoDB ...
    etag2 = put(clients, bucket, V2)
    slow = loader(settings)
    newer: dict[str, Any] = {}

    def version_3_loads_meanwhile() -> None:
        etag3 = put(clients, bucket, V3)
        newer["report"] = first.load(target, bucket, KEY, observed(time.time_ns()), etag=etag3)

    once_before(slow.dynamodb, "Query", version_3_loads_meanwhile)
    # WHEN version 3 loads whole (generation 3) between version 2's flip and its sweep
    older = slow.load(target, bucket, KEY, observed(time.time_ns()), etag=etag2)
    assert (older.outcome, older.gen) == ("applied", 2)
    assert (newer["report"].outcome, newer["report"].gen) == ("applied", 3)
    # THEN generation 3 keeps its rows: the current version reads whole
    assert rows(clients, table, bucket) == [{"i": 100}]


def test_an_ambiguous_failure_of_the_claim_still_loads_the_file(
    emulator: Emulator, settings: Settings, clients: Clients, names: StackNames, table: str
) -> None:
    """Bug 2: the START claim applied but its answer was lost (a 500 after the commit);
    botocore sent it again, the condition refused it, and the load answered "stale": the file
    stayed "loading" with no rows, and nothing would ever load it."""

    class AmbiguousStart(FaultProxy):
        updates = 0

        def decide(self, service: str, operation: str) -> tuple[Fault | None, float]:
            if service == "dynamodb" and operation == "UpdateItem":
                self.updates += 1
                if self.updates == 2:  # 1: the resume attempt (refused), 2: the start
                    return Fault("dynamodb", 500, "InternalServerError", ambiguous=True), 0.0
            return None, 0.0

    bucket, target = names.bucket, Target(table=table)
    etag = put(clients, bucket, V1)
    proxy = AmbiguousStart(emulator.port, 1)
    with proxy:
        faulty = Clients(settings.override(endpoint_url=proxy.endpoint_url))
        report = FileLoader(faulty.s3, faulty.dynamodb).load(
            target, bucket, KEY, observed(time.time_ns()), etag=etag
        )
        assert proxy.updates >= 3, "the start was not retried: the fault was not injected"
    assert (report.outcome, report.gen, report.rows) == ("applied", 1, 3)
    assert rows(clients, table, bucket) == [{"i": 1}, {"i": 2}, {"i": 3}]
    manifest = RecordsReader(clients.dynamodb, table).manifest(bucket, KEY)
    assert manifest is not None and manifest.status == "complete"


@pytest.mark.parametrize("overtaken", ["load", "delete"])
def test_a_load_or_delete_overtaken_by_a_newer_version_gives_the_file_up_at_once(
    overtaken: str, settings: Settings, clients: Clients, names: StackNames, table: str
) -> None:
    """Bug 3: an older load or delete that saw a newer version waiting stopped, but kept its
    lease: the newer version was refused ("another version is loading") for the lease's 300 s,
    and a delete let the lost lease escape as an error."""
    bucket, target = names.bucket, Target(table=table)
    etag1 = put(clients, bucket, V1)
    if overtaken == "delete":
        assert (
            loader(settings).load(target, bucket, KEY, observed(time.time_ns()), etag=etag1).gen
            == 1
        )
    older = loader(settings)
    store = target.manifests(clients.dynamodb)
    stamp1 = observed(time.time_ns())
    waiting: list[ClaimKind] = []

    def a_newer_version_arrives() -> None:
        # The newer version finds the lease held: it raises rev, so the older one stops.
        newer = observed(time.time_ns())
        waiting.append(
            store.claim(bucket, KEY, newer, now=time.time(), lease=300, identity="e2").kind
        )

    # The older one's last conditional write (the flip, or the tombstone) is where it sees it.
    once_before(
        older.dynamodb,
        "BatchWriteItem" if overtaken == "load" else "Query",
        a_newer_version_arrives,
    )
    if overtaken == "load":
        report = older.load(target, bucket, KEY, stamp1, etag=etag1)
    else:
        report = older.remove(target, bucket, KEY, stamp1)
    assert waiting == [ClaimKind.BUSY]
    assert report.outcome == "stale"
    # The newer version, coming back a moment later, starts: nobody holds the file now.
    etag2 = put(clients, bucket, V2)
    try:
        again = loader(settings).load(target, bucket, KEY, observed(time.time_ns()), etag=etag2)
    except RetryableError as exc:
        pytest.fail(f"the newer version still waits for the overtaken one's lease: {exc}")
    assert again.outcome == "applied"
    assert rows(clients, table, bucket) == [{"i": 10}, {"i": 20}]


def count_calls(client: Any, operation: str) -> list[int]:
    """How many ``operation`` requests ``client`` sends from now on (a one-item list)."""
    seen = [0]

    def hook(**_: Any) -> None:
        seen[0] += 1

    service = client.meta.service_model.service_name
    client.meta.events.register(f"before-call.{service}.{operation}", hook)
    return seen


def test_a_duplicate_of_the_loaded_version_is_not_loaded_again(
    settings: Settings, clients: Clients, names: StackNames, table: str
) -> None:
    """Without sequencers each delivery is stamped anew by observation, so a duplicate of a
    loaded version looked newer and was loaded again whole as a new generation: every row
    written twice and the old ones swept, paid per write unit."""
    bucket, target = names.bucket, Target(table=table)
    etag = put(clients, bucket, V1)
    first = loader(settings)
    assert first.load(target, bucket, KEY, observed(time.time_ns()), etag=etag).gen == 1
    again = loader(settings)
    writes = count_calls(again.dynamodb, "BatchWriteItem")
    reads = count_calls(again._s3, "GetObject")
    report = again.load(target, bucket, KEY, observed(time.time_ns()), etag=etag)
    assert report.outcome == "stale"
    assert (writes[0], reads[0]) == (0, 0)
    manifest = RecordsReader(clients.dynamodb, table).manifest(bucket, KEY)
    assert manifest is not None and (manifest.gen, manifest.status) == (1, "complete")
    assert rows(clients, table, bucket) == [{"i": 1}, {"i": 2}, {"i": 3}]


def test_a_version_skipped_as_loaded_still_orders_the_versions_after_it(
    settings: Settings, clients: Clients, names: StackNames, table: str
) -> None:
    """Content A, then B, then A again (the same etag): when A-again arrives before B, it is
    skipped as already loaded, but its stamp is kept, so the late B is stale, not loaded."""
    bucket, target = names.bucket, Target(table=table)
    etag_a = put(clients, bucket, V1)
    etag_b = "b" * 32  # B's event arrives after the object holds A again
    first = loader(settings)
    t1, t2, t3 = (observed(time.time_ns() + n * 1_000_000) for n in (0, 1, 2))
    assert first.load(target, bucket, KEY, t1, etag=etag_a).outcome == "applied"
    assert first.load(target, bucket, KEY, t3, etag=etag_a).outcome == "stale"
    assert first.load(target, bucket, KEY, t2, etag=etag_b).outcome == "stale"
    assert rows(clients, table, bucket) == [{"i": 1}, {"i": 2}, {"i": 3}]
