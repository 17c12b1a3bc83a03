"""An S3 Inventory report as reconcile's source, on the emulator: exactly the current objects,
in S3's key order, whatever order the report's files hold them in, and nothing from a report
that does not verify."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.integration.inventory_reports import Obj, deliver, described

from bucketsync.aws.clients import Clients
from bucketsync.aws.dynamo import ConditionalWriter
from bucketsync.engine.ordering import observed
from bucketsync.errors import ConfigurationError, ListingError
from bucketsync.local.stack import StackNames
from bucketsync.reconcile import catalog_fingerprints, compare, list_bucket
from bucketsync.reconcile.inventory import SEEK_EVERY, InventoryListing
from bucketsync.reconcile.listing import Listed
from bucketsync.reconcile.run import Reconciler
from bucketsync.reconcile.shards import Shard
from bucketsync.sinks.catalog import CatalogSink
from bucketsync.sinks.catalog.reader import CatalogReader
from bucketsync.sinks.tables import table_definition

# Keys whose URL-encoding and order are easy to get wrong: S3 orders UTF-8 bytes, as Python
# orders str; "+" is a space once decoded, so a literal "+" arrives as "%2B".
TRICKY = (
    "a b.txt",
    "a+b.txt",
    "a%b.txt",
    "a%20b.txt",
    "a%2Bb.txt",
    "dir/sub dir/x.txt",
    "dir/sub+dir/x.txt",
    "café/menu.txt",
    "zürich",
    "日本/語.txt",
    "emoji/😀.txt",
    "emoji/\uff5e.txt",  # before the emoji in UTF-8 (and code points), after it in UTF-16
    "Z-upper",
    "~tilde",
)


def bodies(keys: Iterator[str] | tuple[str, ...] | list[str]) -> dict[str, bytes]:
    return {key: f"body of {key}".encode() for key in keys}


def keys(listed: list[Listed]) -> list[str]:
    return [item.key for item in listed]


@pytest.fixture
def buckets(clients: Clients, names: StackNames) -> Iterator[tuple[str, str]]:
    """A source bucket and a destination bucket for its reports, emptied and deleted after."""
    source, destination = names.bucket, StackNames.unique("inventory").bucket
    for bucket in (source, destination):
        clients.s3.create_bucket(Bucket=bucket)
    yield source, destination
    for bucket in (source, destination):
        for page in clients.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                clients.s3.delete_object(Bucket=bucket, Key=entry["Key"])
        clients.s3.delete_bucket(Bucket=bucket)


@pytest.fixture
def catalog_table(clients: Clients, names: StackNames) -> Iterator[str]:
    clients.dynamodb.create_table(**table_definition(names.table))
    yield names.table
    clients.dynamodb.delete_table(TableName=names.table)


def test_a_report_lists_exactly_its_objects_in_the_buckets_key_order(
    clients: Clients, buckets: tuple[str, str]
) -> None:
    # GIVEN a bucket holding keys that are hard to encode and to order, and its report, taken
    # at a known moment, in three data files sorted neither within nor across files
    source, destination = buckets
    objects = bodies(TRICKY)
    for key, body in objects.items():
        clients.s3.put_object(Bucket=source, Key=key, Body=body)
    taken = datetime(2026, 11, 24, 3, 15, 42, 123000, tzinfo=UTC)
    report = deliver(clients.s3, source, destination, objects, created=taken)
    # WHEN the whole key space is read from the report
    with InventoryListing(clients.s3, report.uri, source_bucket=source) as listing:
        whole = listing.range("", None)
        got = list(whole)
        # THEN it is the source bucket's objects, in the order S3 lists them
        assert listing.bucket == source and listing.origin == "inventory"
        assert keys(got) == [key for key, _ in list_bucket(clients.s3, source)]
        assert keys(got) == sorted(objects) and listing.rows == len(objects)
        assert {item.key: (item.size, item.etag) for item in got} == {
            key: (len(body), described(body).etag) for key, body in objects.items()
        }
        assert {(item.last_modified, item.storage_class) for item in got} == {
            (datetime(2026, 11, 23, 10, 0, tzinfo=UTC), "STANDARD")
        }
        # AND every row, and the range's end, carries the report's moment as its stamp
        stamp = observed(int(taken.timestamp() * 1000) * 1_000_000)
        assert listing.stamp == stamp and listing.created == taken
        assert {item.stamp for item in got} == {stamp} and whole.end_stamp == stamp


def test_only_keys_under_the_prefix_are_listed(clients: Clients, buckets: tuple[str, str]) -> None:
    # GIVEN a report of keys inside and outside "dir/", and keys that only begin like it
    source, destination = buckets
    objects = bodies(["dir/a", "dir/b/c", "dir", "dira", "a/dir/x", "e"])
    report = deliver(clients.s3, source, destination, objects)
    # WHEN it is read with the prefix "dir/"
    with InventoryListing(clients.s3, report.bucket, report.manifest_key, prefix="dir/") as listing:
        got = keys(list(listing.range("", None)))
        # THEN only the keys under the prefix are there
        assert got == ["dir/a", "dir/b/c"] and listing.rows == 2
        assert listing.prefix == "dir/"


@pytest.mark.parametrize("buffer", [200_000, 3], ids=["in-memory", "spilled"])
def test_a_range_holds_the_keys_after_its_start_up_to_its_end(
    clients: Clients, buckets: tuple[str, str], buffer: int
) -> None:
    # GIVEN a report of k00 .. k29
    source, destination = buckets
    objects = bodies([f"k{n:02d}" for n in range(30)])
    report = deliver(clients.s3, source, destination, objects, files=4)
    with InventoryListing(clients.s3, report.uri, buffer=buffer) as listing:
        # WHEN ranges (after, upto] are read
        def read(after: str, upto: str | None) -> list[str]:
            return keys(list(listing.range(after, upto)))

        # THEN each holds exactly the keys after its start, up to and including its end
        assert read("k04", "k09") == ["k05", "k06", "k07", "k08", "k09"]
        assert read("", "k02") == ["k00", "k01", "k02"]
        assert read("k045", "k061") == ["k05", "k06"]
        assert read("k27", None) == ["k28", "k29"]
        assert read("k29", None) == [] and read("k10", "k10") == []
        # AND consecutive ranges add up to the whole report, each key once
        bounds = ["", "k03", "k031", "k17", "k2", "k29"]
        shards = [read(a, b) for a, b in zip(bounds, [*bounds[1:], None], strict=True)]
        assert [key for shard in shards for key in shard] == sorted(objects)


def test_ranges_enter_long_runs_through_their_index(
    clients: Clients, buckets: tuple[str, str]
) -> None:
    # GIVEN a report of the even numbers 0 .. 5998 in two files, which the round-robin fills
    # with the numbers 4n + 2 and 4n: sorted in runs of 1500 rows, one run a file, each run's
    # index has a second entry at its 1024th row (04098 and 04096); and one sorted in memory
    assert SEEK_EVERY == 1024
    source, destination = buckets
    objects: dict[str, bytes | Obj] = {f"{n:05d}": Obj(n, f"{n:032x}") for n in range(0, 6000, 2)}
    report = deliver(clients.s3, source, destination, objects, files=2)
    ordered = sorted(objects)
    with (
        InventoryListing(clients.s3, report.uri, buffer=1500) as spilled,
        InventoryListing(clients.s3, report.uri) as whole,
    ):
        # WHEN ranges start before, at, between and after the keys that begin index blocks
        starts = ["", "00000", "03500", "04095", "04096", "04097", "04098", "04099", "05998"]
        for after in starts:
            for upto in (f"{int(after or 0) + 700:05d}", None):
                # THEN both listings give exactly the keys in (after, upto]
                expected = [key for key in ordered if after < key and (upto is None or key <= upto)]
                assert keys(list(spilled.range(after, upto))) == expected, (after, upto)
                assert keys(list(whole.range(after, upto))) == expected, (after, upto)
        assert spilled.spilled == 2 and whole.spilled == 0


def test_shards_reading_at_once_share_one_download_and_get_the_same_keys(
    clients: Clients, buckets: tuple[str, str]
) -> None:
    # GIVEN a report in five files, not yet read, spilled in runs of 7
    source, destination = buckets
    objects = bodies([f"{c}{n}" for c in "abcdefgh" for n in range(6)])
    report = deliver(clients.s3, source, destination, objects, files=5)
    listing = InventoryListing(clients.s3, report.uri, buffer=7)
    downloads: list[str] = []
    clients.s3.meta.events.register(
        "before-parameter-build.s3.GetObject", lambda params, **_: downloads.append(params["Key"])
    )
    shards = [("", "b5"), ("b5", "d"), ("d", "g0"), ("g0", None), ("", None)] * 2
    results: list[list[str]] = [[] for _ in shards]
    failures: list[BaseException] = []
    start = threading.Barrier(len(shards))

    def march(n: int) -> None:
        try:
            start.wait()
            results[n] = keys(list(listing.range(*shards[n])))
        except BaseException as exc:
            failures.append(exc)

    # WHEN ten threads read ranges at the same moment
    threads = [threading.Thread(target=march, args=(n,)) for n in range(len(shards))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    listing.close()
    # THEN each range is what a lone reader gets, and the report was downloaded once
    assert failures == []
    ordered = sorted(objects)
    for (after, upto), got in zip(shards, results, strict=True):
        assert got == [k for k in ordered if k > after and (upto is None or k <= upto)]
    assert sorted(downloads) == sorted(report.data_keys)
    assert listing.spilled == 7


@pytest.mark.parametrize("corrupt", ["manifest", "data", "missing"])
def test_a_report_that_does_not_verify_lists_nothing(
    clients: Clients, buckets: tuple[str, str], corrupt: str
) -> None:
    # GIVEN a report whose manifest, or one of whose data files, does not match its checksum,
    # or whose data file is gone
    source, destination = buckets
    objects = bodies([f"k{n}" for n in range(9)])
    report = deliver(
        clients.s3, source, destination, objects, corrupt=None if corrupt == "missing" else corrupt
    )
    if corrupt == "missing":
        clients.s3.delete_object(Bucket=destination, Key=report.data_keys[1])
    # WHEN it is opened and read
    with (
        pytest.raises(ListingError) as raised,
        InventoryListing(clients.s3, report.uri) as listing,
    ):
        list(listing.range("", None))
    # THEN it fails with one line naming what failed and where
    message = str(raised.value)
    assert "\n" not in message
    if corrupt == "manifest":
        assert report.uri in message and "manifest.checksum" in message
    elif corrupt == "data":
        data = f"s3://{destination}/{report.data_keys[-1]}"
        assert data in message and "MD5" in message
    else:
        assert report.data_keys[1] in message and "NoSuchKey" in message


def test_two_current_rows_for_one_key_fail_the_report(
    clients: Clients, buckets: tuple[str, str]
) -> None:
    # GIVEN a report listing one key twice as current
    source, destination = buckets
    objects = bodies([f"k{n}" for n in range(8)])
    report = deliver(clients.s3, source, destination, objects, twice=["k5"])
    for buffer in (200_000, 2):  # in one run, and in two runs met in the merge
        # WHEN it is read
        with InventoryListing(clients.s3, report.uri, buffer=buffer) as listing:
            # THEN the range holding the key fails, naming it; the range before it does not
            assert keys(list(listing.range("", "k3"))) == ["k0", "k1", "k2", "k3"]
            with pytest.raises(ListingError, match="two current rows for the key 'k5'"):
                list(listing.range("k3", None))


def test_an_all_versions_report_is_read_as_the_current_view(
    clients: Clients, buckets: tuple[str, str]
) -> None:
    # GIVEN an all-versions report: every object with a noncurrent version under it, and
    # keys whose latest version is a delete marker
    source, destination = buckets
    objects = bodies(["a", "b c", "d/e", "😀"])
    deleted = ["gone", "d/gone", "zz"]
    report = deliver(clients.s3, source, destination, objects, all_versions=True, deleted=deleted)
    # WHEN it is read
    with InventoryListing(clients.s3, report.uri) as listing:
        got = list(listing.range("", None))
        # THEN it holds each object once, in its latest version, and no deleted key
        assert keys(got) == sorted(objects) and listing.rows == len(objects)
        assert [item.etag for item in got] == [described(objects[k]).etag for k in keys(got)]


def test_spilled_runs_read_as_the_report_read_whole_and_go_at_close(
    clients: Clients, buckets: tuple[str, str], tmp_path: Path
) -> None:
    # GIVEN a report of 40 objects of different sizes
    source, destination = buckets
    objects: dict[str, bytes | Obj] = {
        f"{n % 7}/{n:03d}": Obj(n, f"{n:032x}", storage_class="GLACIER") for n in range(40)
    }
    report = deliver(clients.s3, source, destination, objects, files=3)
    whole = InventoryListing(clients.s3, report.uri)
    spilled = InventoryListing(clients.s3, report.uri, buffer=3, tmpdir=tmp_path)
    # WHEN it is read whole, and sorted in runs of 3 rows
    expected = list(whole.range("", None))
    got = list(spilled.range("", None))
    # THEN both give the same objects in the same order, one from memory, one from 14 runs
    assert got == expected and keys(got) == sorted(objects)
    assert (whole.spilled, spilled.spilled, spilled.rows) == (0, 14, 40)
    assert len(list(tmp_path.glob("*/run-*"))) == 14
    # AND once closed, no temporary file is left, and the listing cannot be read
    whole.close()
    spilled.close()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ListingError, match="closed"):
        list(spilled.range("", None))


def test_a_parquet_report_reads_as_its_csv_twin(clients: Clients, buckets: tuple[str, str]) -> None:
    pytest.importorskip("pyarrow")
    # GIVEN the same all-versions objects as a CSV report and as a Parquet report
    source, destination = buckets
    objects = bodies(TRICKY)
    twins: dict[str, Any] = {"all_versions": True, "deleted": ["gone"]}
    csv_report = deliver(clients.s3, source, destination, objects, config_id="csv", **twins)
    parquet_report = deliver(
        clients.s3, source, destination, objects, config_id="parquet", parquet=True, **twins
    )
    # WHEN both are read, the Parquet one spilled in runs of 4
    with (
        InventoryListing(clients.s3, csv_report.uri) as csv_listing,
        InventoryListing(clients.s3, parquet_report.uri, buffer=4) as parquet_listing,
    ):
        from_csv = list(csv_listing.range("", None))
        from_parquet = list(parquet_listing.range("", None))

    # THEN they hold the same objects (stamps aside: the reports were taken apart)
    def fields(listed: list[Listed]) -> list[tuple[Any, ...]]:
        return [(i.key, i.size, i.etag, i.last_modified, i.storage_class) for i in listed]

    assert fields(from_parquet) == fields(from_csv) and keys(from_csv) == sorted(objects)


def test_formats_that_cannot_be_read_are_a_configuration_error(
    clients: Clients, buckets: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a report said to be ORC, and one said to be Parquet where pyarrow is not installed
    source, destination = buckets
    objects = bodies(["a"])
    orc = deliver(clients.s3, source, destination, objects, config_id="orc", declared_format="ORC")
    parquet = deliver(
        clients.s3, source, destination, objects, config_id="parquet", declared_format="Parquet"
    )
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    # WHEN they are opened
    # THEN each is refused at once, saying what to do
    with pytest.raises(ConfigurationError, match="configure the inventory as CSV or Parquet"):
        InventoryListing(clients.s3, orc.uri)
    with pytest.raises(ConfigurationError, match=r"pip install 'bucketsync\[parquet\]'"):
        InventoryListing(clients.s3, parquet.uri)


def test_a_report_of_another_bucket_is_refused(clients: Clients, buckets: tuple[str, str]) -> None:
    # GIVEN a report of the source bucket
    source, destination = buckets
    report = deliver(clients.s3, source, destination, bodies(["a"]))
    # WHEN it is opened as the report of another bucket
    # THEN it is refused, naming both
    with pytest.raises(ListingError, match=f"a report of s3://{source}, not s3://other-bucket"):
        InventoryListing(clients.s3, report.uri, source_bucket="other-bucket")


def test_reconcile_from_a_report_fills_an_empty_catalog(
    clients: Clients, buckets: tuple[str, str], catalog_table: str
) -> None:
    # GIVEN a bucket, its report, and an empty catalog
    source, destination = buckets
    objects = bodies([*TRICKY, *(f"data/{n:03d}.json" for n in range(30))])
    for key, body in objects.items():
        clients.s3.put_object(Bucket=source, Key=key, Body=body)
    report = deliver(clients.s3, source, destination, objects, files=4)
    writer = ConditionalWriter(clients.dynamodb, transact=False)
    sink = CatalogSink(writer, catalog_table, reader=clients.dynamodb)
    # WHEN reconcile runs from the report, in three shards marched at once
    with InventoryListing(clients.s3, report.uri, buffer=10) as listing:
        shards = [Shard("", "data/010.json"), Shard("data/010.json", "dir"), Shard("dir", None)]
        result = Reconciler(listing, [sink]).run(shards)
    sink.close()
    # THEN the catalog equals the report's objects (and the bucket), each item from the report
    assert result.exit_code() == 0, result.errors
    assert (result.source, result.listed) == ("inventory", len(objects))
    items = list(CatalogReader(clients.dynamodb, catalog_table).list(source))
    assert compare(dict(list_bucket(clients.s3, source)), catalog_fingerprints(iter(items))).in_sync
    assert sorted(item["object_key"] for item in items) == sorted(objects)
    assert {item["source"] for item in items} == {"inventory"}
