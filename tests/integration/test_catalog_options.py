"""Catalog options (preview, tags, journal) and lean mode, against the emulator."""

from __future__ import annotations

from bucketsync.aws.clients import Clients
from bucketsync.compose import build_engine
from bucketsync.events import Change, ChangeKind
from bucketsync.local.stack import Stack
from bucketsync.settings import Settings
from bucketsync.sinks.catalog import schema
from bucketsync.sinks.catalog.reader import CatalogReader, deserialize


def created(bucket: str, key: str, sequencer: str | None = None, **kw: object) -> Change:
    return Change(bucket, key, ChangeKind.CREATED, "ObjectCreated:Put", sequencer=sequencer, **kw)  # type: ignore[arg-type]


def test_preview_holds_the_first_characters_of_text_only(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN previews on, a long UTF-8 text object and a binary one
    engine = build_engine(settings.override(preview=True, preview_chars=10), clients)
    text = "héllo wörld, " * 100
    clients.s3.put_object(
        Bucket=stack.bucket, Key="t.txt", Body=text.encode(), ContentType="text/plain"
    )
    clients.s3.put_object(
        Bucket=stack.bucket, Key="b.bin", Body=b"\x00\x01", ContentType="application/octet-stream"
    )
    # WHEN both changes are applied
    engine.process_changes([created(stack.bucket, "t.txt"), created(stack.bucket, "b.bin")])
    # THEN the text item has exactly the first 10 characters, the binary one none
    reader = CatalogReader(clients.dynamodb, stack.table)
    assert reader.get(stack.bucket, "t.txt")["preview"] == text[:10]  # type: ignore[index]
    assert "preview" not in reader.get(stack.bucket, "b.bin")  # type: ignore[operator]


def test_tags_are_stored_when_asked(settings: Settings, clients: Clients, stack: Stack) -> None:
    engine = build_engine(settings.override(tags=True), clients)
    clients.s3.put_object(Bucket=stack.bucket, Key="k", Body=b"x", Tagging="team=data&tier=gold")
    engine.process_changes([created(stack.bucket, "k")])
    item = CatalogReader(clients.dynamodb, stack.table).get(stack.bucket, "k")
    assert item is not None and item["tags"] == {"team": "data", "tier": "gold"}


def test_journal_keeps_one_item_per_change_and_duplicates_once(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN journal mode and two versions of a key, with sequencers (as real S3 sends)
    engine = build_engine(settings.override(journal=True), clients)
    clients.s3.put_object(Bucket=stack.bucket, Key="k", Body=b"v2")
    first = created(stack.bucket, "k", "0A", etag="e1", size=2)
    second = created(stack.bucket, "k", "0B", etag="e2", size=2)
    # WHEN they are applied, one of them twice
    engine.process_changes([first])
    engine.process_changes([second, first])
    engine.process_changes([second])
    # THEN there are two journal items with a TTL, beside one current item
    answer = clients.dynamodb.query(
        TableName=stack.table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :j)",
        ExpressionAttributeValues={
            ":pk": {"S": schema.partition_key(stack.bucket)},
            ":j": {"S": schema.JOURNAL_PREFIX},
        },
    )
    journal = [deserialize(i) for i in answer["Items"]]
    assert sorted(j["etag"] for j in journal) == ["e1", "e2"]
    assert all(j["expires_at"] > 0 for j in journal)
    [current] = CatalogReader(clients.dynamodb, stack.table).list(stack.bucket)
    assert current["rev"] == "S" + "0B".ljust(64, "0")


def test_lean_mode_trusts_the_event_and_makes_no_lookup(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    # GIVEN lean mode and an event with a sequencer for an object S3 does not even have
    engine = build_engine(settings.override(lean=True), clients)
    # WHEN it is applied
    report = engine.process_changes([created(stack.bucket, "k", "0C", etag="abc", size=7)])
    # THEN no HeadObject happened and the event's size and etag were stored
    assert report.lookups == 0
    item = CatalogReader(clients.dynamodb, stack.table).get(stack.bucket, "k")
    assert item is not None and (item["size"], item["etag"]) == (7, "abc")
    assert "content_type" not in item


def test_lean_mode_without_sequencers_still_looks_up(
    settings: Settings, clients: Clients, stack: Stack
) -> None:
    engine = build_engine(settings.override(lean=True), clients)
    report = engine.process_changes([created(stack.bucket, "missing", etag="abc", size=7)])
    assert report.lookups == 1
    item = CatalogReader(clients.dynamodb, stack.table).get(stack.bucket, "missing")
    assert item is not None and item["deleted"] is True


def test_one_table_serves_many_buckets(settings: Settings, clients: Clients, stack: Stack) -> None:
    # GIVEN the same key in two buckets, in one table (lean: no lookups needed)
    engine = build_engine(settings.override(lean=True), clients)
    engine.process_changes(
        [
            created("bucket-one", "same/key", "01", etag="e1", size=1),
            created("bucket-two", "same/key", "01", etag="e2", size=2),
        ]
    )
    # THEN each bucket lists only its own object
    reader = CatalogReader(clients.dynamodb, stack.table)
    assert [i["etag"] for i in reader.list("bucket-one")] == ["e1"]
    assert [i["etag"] for i in reader.list("bucket-two")] == ["e2"]
