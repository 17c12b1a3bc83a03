"""The engine's choices, example by example (GIVEN / WHEN / THEN)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bucketsync.engine.pipeline import Engine, Message
from bucketsync.engine.stamp import ObservationClock, sequencer_stamp
from bucketsync.engine.state import ObjectState
from bucketsync.engine.update import Outcome
from bucketsync.errors import RetryableError
from bucketsync.events import Change, ChangeKind
from bucketsync.sinks.memory import MemorySink
from tests.unit.fakes import BUCKET, FakeBucket, to_body


def make_engine(bucket: FakeBucket, **kwargs: object) -> tuple[Engine, MemorySink]:
    sink = MemorySink()
    engine = Engine(bucket, [sink], executor=ThreadPoolExecutor(4), **kwargs)  # type: ignore[arg-type]
    return engine, sink


def view(sink: MemorySink) -> dict[str, tuple[int | None, str | None]]:
    return {k: (s.size, s.etag) for k, s in sink.current(BUCKET).items()}


def test_duplicate_change_is_reported_stale_and_changes_nothing() -> None:
    # GIVEN an object created once
    bucket = FakeBucket()
    engine, sink = make_engine(bucket)
    create = bucket.put("a.txt", b"one")
    # WHEN its event is delivered twice
    first = engine.process_changes([create])
    second = engine.process_changes([create])
    # THEN the second delivery is a no-op
    assert first.outcomes == {"memory": {"applied": 1}}
    assert second.outcomes == {"memory": {"stale": 1}}
    assert view(sink) == bucket.view()


def test_late_create_cannot_resurrect_a_deleted_object() -> None:
    # GIVEN a create then a delete, with the delete's event delivered first
    bucket = FakeBucket()
    engine, sink = make_engine(bucket, lean=True)
    create = bucket.put("k", b"x")
    delete = bucket.delete("k")
    engine.process_changes([delete])
    # WHEN the older create arrives late
    report = engine.process_changes([create])
    # THEN the tombstone wins and the object stays gone
    assert report.outcomes == {"memory": {"stale": 1}}
    assert view(sink) == {}
    stored = sink.items[(BUCKET, "k")]
    stamp, state = stored.stamp, stored.state
    assert not state.present
    assert stamp == sequencer_stamp(delete.sequencer or "")


def test_newest_change_per_key_wins_within_one_batch() -> None:
    # GIVEN three versions of a key in one batch, shuffled
    bucket = FakeBucket()
    engine, sink = make_engine(bucket)
    events = [bucket.put("k", b"1"), bucket.put("k", b"22"), bucket.put("k", b"333")]
    # WHEN the batch is applied
    report = engine.process_changes([events[2], events[0], events[1]])
    # THEN one lookup and one write happen, for the newest
    assert report.keys == 1
    assert bucket.lookups == 1
    assert view(sink) == {"k": (3, bucket.view()["k"][1])}


def test_head_newer_than_event_is_written_under_the_events_stamp() -> None:
    # GIVEN an object overwritten after its first event was emitted
    bucket = FakeBucket()
    engine, sink = make_engine(bucket)
    old = bucket.put("k", b"old")
    new = bucket.put("k", b"newer")
    # WHEN the old event is processed (HeadObject already sees the newer object)
    engine.process_changes([old])
    # THEN the newer state is stored, but under the old stamp, so the new event still applies
    assert sink.items[(BUCKET, "k")].stamp == sequencer_stamp(old.sequencer or "")
    assert engine.process_changes([new]).outcomes == {"memory": {"applied": 1}}
    assert view(sink) == bucket.view()


def test_delete_needs_no_lookup_with_sequencers() -> None:
    bucket = FakeBucket()
    engine, sink = make_engine(bucket)
    bucket.put("k", b"x")
    report = engine.process_changes([bucket.delete("k")])
    assert report.lookups == 0
    assert view(sink) == {}


def test_permanent_version_delete_is_looked_up() -> None:
    # GIVEN a versioned object whose current version is deleted permanently: an older version
    # becomes current again, so the key must not be tombstoned blindly
    bucket = FakeBucket()
    engine, sink = make_engine(bucket)
    bucket.put("k", b"v1")
    version_delete = Change(
        BUCKET,
        "k",
        ChangeKind.REMOVED,
        "ObjectRemoved:Delete",
        sequencer="FFFFFFF",
        version_id="v2",
    )
    # WHEN it is applied
    report = engine.process_changes([version_delete])
    # THEN the engine asked S3, and the catalog shows the version that is current now
    assert report.lookups == 1
    assert view(sink) == bucket.view()


def test_without_sequencers_every_key_is_looked_up_and_stamped_by_observation() -> None:
    bucket = FakeBucket(with_sequencers=False)
    clock = ObservationClock(now_ns=lambda: 5)
    engine, sink = make_engine(bucket, clock=clock)
    bucket.put("k", b"x")
    delete = bucket.delete("k")
    report = engine.process_changes([delete])
    assert report.lookups == 1
    assert sink.items[(BUCKET, "k")].stamp == "O00000000000000000005"
    assert view(sink) == {}


def test_ordering_sequencer_refuses_events_without_one() -> None:
    bucket = FakeBucket(with_sequencers=False)
    engine, _ = make_engine(bucket, ordering="sequencer")
    report = engine.process_changes([bucket.put("k", b"x")], message_id="m1")
    assert "m1" in report.failures


def test_malformed_message_fails_alone() -> None:
    # GIVEN a batch with one good message and one malformed one
    bucket = FakeBucket()
    engine, sink = make_engine(bucket)
    bucket.put("a b.txt", b"x")
    good = (
        '{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",'
        '"eventTime":"2026-11-23T10:00:00.000Z","s3":{"bucket":{"name":"bucket"},'
        '"object":{"key":"a+b.txt","size":1,"eTag":"e","sequencer":"0A"}}}]}'
    )
    # WHEN both are processed
    report = engine.process_messages([Message("good", good), Message("bad", "{not json")])
    # THEN only the malformed one fails, and the good one landed
    assert set(report.failures) == {"bad"}
    assert view(sink) == bucket.view()


class ExplodingSink:
    name = "exploding"

    def apply(self, updates: object) -> list[Outcome | BaseException]:
        raise RuntimeError("boom")

    def close(self) -> None:
        pass


def test_a_sink_that_raises_fails_its_keys_not_the_process() -> None:
    bucket = FakeBucket()
    engine = Engine(bucket, [ExplodingSink()])
    report = engine.process_changes([bucket.put("k", b"x")], message_id="m")
    assert isinstance(report.failures["m"], RuntimeError)


class FlakyBucket(FakeBucket):
    def lookup(self, bucket: str, key: str) -> ObjectState:
        if key == "bad":
            raise RetryableError("throttled")
        return super().lookup(bucket, key)


def test_lookup_failure_fails_only_that_keys_messages() -> None:
    # GIVEN a batch whose second key cannot be looked up
    bucket = FlakyBucket()
    engine, sink = make_engine(bucket)
    ok, bad = bucket.put("ok", b"1"), bucket.put("bad", b"2")
    # WHEN it is processed
    report = engine.process_messages([Message("m-ok", to_body(ok)), Message("m-bad", to_body(bad))])
    # THEN only the message carrying that key fails; the other key landed
    assert set(report.failures) == {"m-bad"}
    assert isinstance(report.failures["m-bad"], RetryableError)
    assert view(sink) == {"ok": bucket.view()["ok"]}


def test_engine_needs_a_sink() -> None:
    with pytest.raises(ValueError, match="at least one sink"):
        Engine(FakeBucket(), [])


class PrefixSink(MemorySink):
    """A memory sink that holds only keys under ``prefix`` (as the records and mirror sinks
    hold only routed files, or keys under the mirror's prefix)."""

    def __init__(self, prefix: str, name: str = "memory") -> None:
        super().__init__()
        self.name = name
        self.prefix = prefix
        self.given: list[str] = []

    def in_scope(self, bucket: str, key: str) -> bool:
        return key.startswith(self.prefix)

    def apply(self, updates):  # type: ignore[no-untyped-def]
        self.given += [u.key for u in updates]
        return [
            r if self.in_scope(u.bucket, u.key) else Outcome.SKIPPED
            for u, r in zip(updates, super().apply(updates), strict=True)
        ]


def test_a_key_no_sink_holds_is_not_looked_up() -> None:
    # GIVEN two sinks holding keys under data/ and under docs/, and events without sequencers
    # (observed ordering: every key would be looked up)
    bucket = FakeBucket()
    data, docs = PrefixSink("data/", "records"), PrefixSink("docs/", "mirror")
    engine = Engine(bucket, [data, docs], ordering="observed", executor=ThreadPoolExecutor(2))
    changes = [bucket.put(key, b"x") for key in ("data/a.csv", "docs/b.md", "logs/c.txt")]
    # WHEN the batch is applied
    report = engine.process_changes(changes)
    # THEN only the two keys some sink holds were looked up; the third counts as skipped
    assert report.lookups == 2
    assert bucket.lookups == 2
    assert report.outcomes == {
        "records": {"applied": 1, "skipped": 2},
        "mirror": {"applied": 1, "skipped": 2},
    }
    assert "logs/c.txt" not in data.given + docs.given
