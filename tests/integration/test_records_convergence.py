"""Property: whatever order and however often a file's versions are delivered, its table ends
holding exactly the newest version's rows (against the moto server, versioned bucket).

Every version stays readable by its version id, so an older version delivered first really
loads, and a newer one must then replace it, shrinking or growing, with the sweep removing
what it lacks; a stale delivery after that must change nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration.helpers import file_items

from bucketsync.aws.clients import Clients
from bucketsync.sinks.records.loader import FileLoader
from bucketsync.sinks.records.reader import RecordsReader
from bucketsync.sinks.records.target import Target
from bucketsync.sinks.tables import table_definition

KEY = "data/file.jsonl"


@pytest.fixture
def bucket_and_table(clients: Clients) -> Iterator[tuple[str, str]]:
    name = f"conv-{uuid.uuid4().hex[:12]}"
    clients.s3.create_bucket(Bucket=name)
    clients.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    clients.dynamodb.create_table(**table_definition(name))
    yield name, name
    clients.dynamodb.delete_table(TableName=name)


versions = st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=4)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(sizes=versions, data=st.data())
def test_the_newest_version_wins_whatever_the_delivery(
    clients: Clients, bucket_and_table: tuple[str, str], sizes: list[int], data: st.DataObject
) -> None:
    bucket, table = bucket_and_table
    key = f"{KEY}.{uuid.uuid4().hex[:8]}"  # each example its own file
    uploaded = []
    for n, size in enumerate(sizes, start=1):
        body = "".join(json.dumps({"i": i, "v": n}) + "\n" for i in range(size)).encode()
        answer = clients.s3.put_object(Bucket=bucket, Key=f"{key}.jsonl", Body=body)
        uploaded.append((f"S{n:04d}", answer["VersionId"], size))
    # deliveries: every version at least once, some twice, in any order
    deliveries = data.draw(
        st.permutations(uploaded + data.draw(st.lists(st.sampled_from(uploaded), max_size=4)))
    )
    loader = FileLoader(clients.s3, clients.dynamodb)
    target = Target(table=table)
    for stamp, version_id, _ in deliveries:
        loader.load(target, bucket, f"{key}.jsonl", stamp, version_id=version_id)
    newest_size = uploaded[-1][2]
    rows = list(RecordsReader(clients.dynamodb, table).rows(bucket, f"{key}.jsonl"))
    assert [(r["i"], r["v"]) for r in rows] == [(i, len(sizes)) for i in range(newest_size)]
    # and nothing of another generation is left behind in the table
    assert file_items(clients, table, bucket, f"{key}.jsonl") == newest_size + 1
