"""One harness per sink, on the emulator, for the conformance suite (rclone's fstests idea).

``harness`` is parametrized over the four sinks; each test runs once per sink, and checks it
against the in-memory sink (the executable spec) where outcomes are compared.

    memory    MemorySink                      (its bad key: a refusal hook)
    catalog   CatalogSink on a table          (its bad key: an item over 400 KB)
    records   RecordsSink, every key routed   (its bad key: a bucket that does not exist)
    mirror    MirrorSink under tmp_path       (its bad key: a bucket that does not exist)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from bucketsync.aws.clients import Clients
from bucketsync.aws.dynamo import ConditionalWriter
from bucketsync.aws.s3 import S3ObjectSource
from bucketsync.engine.stamp import ObservationClock, sequencer_stamp
from bucketsync.engine.state import ABSENT, Held, ObjectState
from bucketsync.engine.update import Outcome, Update
from bucketsync.local.stack import StackNames
from bucketsync.record_routes import Route
from bucketsync.sinks.catalog import CatalogSink
from bucketsync.sinks.memory import MemorySink
from bucketsync.sinks.mirror import MirrorSink
from bucketsync.sinks.records.loader import FileLoader
from bucketsync.sinks.records.sink import RecordsSink
from bucketsync.sinks.tables import table_definition

SINKS = ("memory", "catalog", "records", "mirror")
BAD_KEY = "bad/key.jsonl"
CLOCK = ObservationClock()


def seq(n: int) -> str:
    return sequencer_stamp(f"{n:016X}")


def body_of(key: str, version: int) -> bytes:
    """A JSON Lines body (the records sink loads it), different for every key and version."""
    return f'{{"key": "{key.encode("unicode_escape").decode()}", "v": {version}}}\n'.encode()


@dataclass
class Harness:
    kind: str
    sink: Any  # Sink and Listable
    bucket: str
    clients: Clients
    bad: Callable[[], Update]

    def put(self, key: str, version: int = 1) -> ObjectState:
        """Upload version ``version`` of ``key`` and return its state, as HeadObject has it."""
        self.clients.s3.put_object(Bucket=self.bucket, Key=key, Body=body_of(key, version))
        return S3ObjectSource(self.clients.s3).lookup(self.bucket, key)

    def created(
        self,
        key: str,
        stamp: str,
        *,
        version: int = 1,
        seen: str | None = None,
        origin: str = "event",
    ) -> Update:
        return Update(self.bucket, key, self.put(key, version), stamp, (), seen, origin)

    def removed(
        self, key: str, stamp: str, *, seen: str | None = None, origin: str = "event"
    ) -> Update:
        return Update(self.bucket, key, ABSENT, stamp, (), seen, origin)

    def listing(
        self, prefix: str = "", start_after: str = "", upto: str | None = None
    ) -> list[tuple[str, bool, str, Any]]:
        return [_row(h) for h in self.sink.listing(self.bucket, prefix, start_after, upto)]


def _row(held: Held) -> tuple[str, bool, str, Any]:
    return held.key, held.present, held.stamp, held.etag if held.present else None


def spec_listing(
    spec: MemorySink, bucket: str, prefix: str = "", start_after: str = "", upto: str | None = None
) -> Any:
    return [_row(h) for h in spec.listing(bucket, prefix, start_after, upto)]


def same(results: list[Outcome | BaseException]) -> list[str]:
    """Outcomes as the spec names them: a mirror's SKIPPED (the file already held those bytes,
    the stamp recorded) is the spec's APPLIED; an exception is "failed"."""
    return [
        "failed"
        if isinstance(r, BaseException)
        else ("applied" if r is Outcome.SKIPPED else r.value)
        for r in results
    ]


@pytest.fixture(params=SINKS)
def harness(
    request: pytest.FixtureRequest, clients: Clients, names: StackNames, tmp_path: Path
) -> Iterator[Harness]:
    kind: str = request.param
    s3, dynamodb = clients.s3, clients.dynamodb
    s3.create_bucket(Bucket=names.bucket)
    tables: list[str] = []

    def table(name: str) -> str:
        dynamodb.create_table(**table_definition(name))
        tables.append(name)
        return name

    elsewhere = f"{names.bucket}-missing"  # never created
    sink: Any
    bad: Callable[[], Update]
    if kind == "memory":
        sink = MemorySink(refuse=lambda u: "refused by the test" if u.key == BAD_KEY else None)
        bad = lambda: Update(names.bucket, BAD_KEY, ObjectState(True, 1, "e"), seq(1))  # noqa: E731
    elif kind == "catalog":
        writer = ConditionalWriter(dynamodb, executor=ThreadPoolExecutor(4))
        sink = CatalogSink(writer, table(names.table), reader=dynamodb)
        huge = ObjectState(True, 1, "e", content_type="x" * 500_000)  # not shrinkable
        bad = lambda: Update(names.bucket, BAD_KEY, huge, seq(1))  # noqa: E731
    elif kind == "records":
        routes = [Route(match="**", table=table(f"{names.table}-rows"), format="jsonl")]
        sink = RecordsSink(FileLoader(s3, dynamodb), routes, manifest_table=table(names.table))
        bad = lambda: Update(elsewhere, BAD_KEY, ObjectState(True, 1, "e"), seq(1))  # noqa: E731
    else:
        # a new root: its store owes no rebuild, so none is handed
        sink = MirrorSink(s3, tmp_path / "mirror", concurrency=4, backoff=0.01)
        bad = lambda: Update(elsewhere, BAD_KEY, ObjectState(True, 1, "e"), seq(1))  # noqa: E731
    try:
        yield Harness(kind, sink, names.bucket, clients, bad)
    finally:
        sink.close()
        for name in tables:
            dynamodb.delete_table(TableName=name)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=names.bucket):
            if doomed := [{"Key": obj["Key"]} for obj in page.get("Contents", [])]:
                s3.delete_objects(Bucket=names.bucket, Delete={"Objects": doomed})  # type: ignore[typeddict-item]
        s3.delete_bucket(Bucket=names.bucket)


def observe() -> str:
    return CLOCK.stamp()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


__all__ = ["Harness", "md5", "observe", "replace", "same", "seq", "spec_listing"]
