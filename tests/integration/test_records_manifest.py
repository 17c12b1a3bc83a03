"""The records manifest over HTTP against the moto server: lease, checkpoint, flip, staleness."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bucketsync.aws.clients import Clients
from bucketsync.errors import LostLeaseError
from bucketsync.local.stack import StackNames
from bucketsync.sinks.records.claims import ClaimKind
from bucketsync.sinks.records.manifest import ManifestStore
from bucketsync.sinks.tables import table_definition

B, K = "bucket", "data/orders.jsonl"
LEASE = 60.0


@pytest.fixture
def store(clients: Clients, names: StackNames) -> Iterator[ManifestStore]:
    table = f"{names.table}-rows"
    clients.dynamodb.create_table(**table_definition(table))
    yield ManifestStore(clients.dynamodb, table)
    clients.dynamodb.delete_table(TableName=table)


def test_a_first_version_starts_generation_one_then_flips_it_current(store: ManifestStore) -> None:
    claim = store.claim(B, K, "S01", now=100.0, lease=LEASE)
    assert (claim.kind, claim.gen, claim.previous_gen) == (ClaimKind.START, 1, None)
    store.checkpoint(
        B,
        K,
        "S01",
        next_index=500,
        next_offset=9000,
        next_line=612,
        written=499,
        bad=1,
        new_errors=[{"line": 7, "reason": "not valid JSON"}],
        now=110.0,
        lease=LEASE,
    )
    assert store.complete(B, K, "S01", gen=1, rows=999, bad=1, details={"etag": "e1"}) is None
    manifest = store.read(B, K)
    assert manifest is not None
    assert (manifest.gen, manifest.rows, manifest.bad, manifest.status) == (1, 999, 1, "complete")
    assert manifest.errors == [{"line": 7, "reason": "not valid JSON"}]
    assert manifest.raw["etag"] == "e1"


def test_a_retried_message_resumes_from_its_checkpoint(store: ManifestStore) -> None:
    store.claim(B, K, "S01", now=100.0, lease=LEASE)
    store.checkpoint(
        B,
        K,
        "S01",
        next_index=250,
        next_offset=4096,
        next_line=263,
        written=250,
        bad=0,
        now=120.0,
        lease=LEASE,
    )
    again = store.claim(B, K, "S01", now=130.0, lease=LEASE)
    assert (again.kind, again.gen, again.next_index, again.next_offset, again.next_line) == (
        ClaimKind.RESUME,
        1,
        250,
        4096,
        263,
    )


def test_a_new_version_starts_from_the_beginning_not_the_old_checkpoint(
    store: ManifestStore,
) -> None:
    # GIVEN a load that checkpointed part-way and then lost its lease to time
    store.claim(B, K, "S01", now=100.0, lease=LEASE)
    store.checkpoint(
        B,
        K,
        "S01",
        next_index=250,
        next_offset=4096,
        next_line=263,
        written=250,
        bad=0,
        now=120.0,
        lease=LEASE,
    )
    # WHEN a newer version starts once that lease has expired
    claim = store.claim(B, K, "S02", now=120.0 + LEASE + 1, lease=LEASE)
    # THEN it starts at row 0, byte 0, and so does its own retry
    assert (claim.kind, claim.next_index, claim.next_offset, claim.next_line) == (
        ClaimKind.START,
        0,
        0,
        0,
    )
    again = store.claim(B, K, "S02", now=120.0 + LEASE + 2, lease=LEASE)
    assert (again.kind, again.next_index, again.next_offset, again.next_line) == (
        ClaimKind.RESUME,
        0,
        0,
        0,
    )


def test_older_and_duplicate_versions_are_stale(store: ManifestStore) -> None:
    store.claim(B, K, "S05", now=100.0, lease=LEASE)
    store.complete(B, K, "S05", gen=1, rows=3, bad=0, details={})
    assert store.claim(B, K, "S05", now=101.0, lease=LEASE).kind is ClaimKind.STALE
    assert store.claim(B, K, "S04", now=101.0, lease=LEASE).kind is ClaimKind.STALE


def test_a_newer_version_waits_for_the_lease_and_the_older_load_stops(
    store: ManifestStore,
) -> None:
    # GIVEN an older version loading under a live lease
    store.claim(B, K, "S01", now=100.0, lease=LEASE)
    # WHEN a newer version arrives, it is told to come back, and it announces itself
    assert store.claim(B, K, "S02", now=105.0, lease=LEASE).kind is ClaimKind.BUSY
    # THEN the older load loses its lease at its next checkpoint, and cannot flip
    with pytest.raises(LostLeaseError):
        store.checkpoint(
            B,
            K,
            "S01",
            next_index=10,
            next_offset=0,
            next_line=0,
            written=10,
            bad=0,
            now=106.0,
            lease=LEASE,
        )
    with pytest.raises(LostLeaseError):
        store.complete(B, K, "S01", gen=1, rows=10, bad=0, details={})
    # AND once the lease has expired, the newer version starts a new generation
    claim = store.claim(B, K, "S02", now=100.0 + LEASE + 1, lease=LEASE)
    assert (claim.kind, claim.gen) == (ClaimKind.START, 2)


def test_a_failed_version_leaves_the_previous_generation_current(store: ManifestStore) -> None:
    store.claim(B, K, "S01", now=100.0, lease=LEASE)
    store.complete(B, K, "S01", gen=1, rows=5, bad=0, details={})
    claim = store.claim(B, K, "S02", now=200.0, lease=LEASE)
    assert (claim.kind, claim.gen, claim.previous_gen) == (ClaimKind.START, 2, 1)
    store.fail(B, K, "S02", reason="not gzip")
    manifest = store.read(B, K)
    assert manifest is not None
    assert (manifest.gen, manifest.rows, manifest.status) == (1, 5, "failed")
    assert manifest.raw["failure"] == "not gzip"
    # and the same failed version's redelivery does not start it again
    assert store.claim(B, K, "S02", now=201.0, lease=LEASE).kind is ClaimKind.STALE
    # while a newer one replaces generation 1 when it completes
    assert store.claim(B, K, "S03", now=202.0, lease=LEASE).gen == 3
    assert store.complete(B, K, "S03", gen=3, rows=1, bad=0, details={}) == 1


def test_a_retry_stamped_anew_resumes_when_it_is_the_same_content(store: ManifestStore) -> None:
    # Without sequencers every attempt gets a new observation stamp; the etag says it is the
    # same version, so the retry resumes (and takes the lease under its newer stamp)...
    store.claim(B, K, "O01", now=100.0, lease=LEASE, identity="etag-1")
    store.checkpoint(
        B,
        K,
        "O01",
        next_index=40,
        next_offset=0,
        next_line=0,
        written=40,
        bad=0,
        now=101.0,
        lease=LEASE,
    )
    again = store.claim(B, K, "O02", now=102.0, lease=LEASE, identity="etag-1")
    assert (again.kind, again.gen, again.next_index) == (ClaimKind.RESUME, 1, 40)
    # ...so the first attempt, if it is still running somewhere, has lost the file
    with pytest.raises(LostLeaseError):
        store.checkpoint(
            B,
            K,
            "O01",
            next_index=41,
            next_offset=0,
            next_line=0,
            written=41,
            bad=0,
            now=103.0,
            lease=LEASE,
        )
    # while different content under a newer stamp waits for the lease, as any newer version
    assert store.claim(B, K, "O03", now=104.0, lease=LEASE, identity="etag-2").kind is (
        ClaimKind.BUSY
    )
