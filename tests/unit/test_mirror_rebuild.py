"""The mirror asks for a rebuild of its store through what it is handed: the sinks never import
reconcile (which builds on them), so the rebuild (``reconcile.mirror.rebuild``) comes in from the
composition or whoever builds the sink; there is no process-wide default. The rebuild itself,
against the emulator: ``tests/integration/test_mirror_state.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from bucketsync.aws.clients import Clients
from bucketsync.compose import build_mirror
from bucketsync.engine.stamp import ObservationClock
from bucketsync.engine.state import ABSENT
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import ConfigurationError, RetryableError
from bucketsync.reconcile import mirror as reconcile_mirror
from bucketsync.settings import Settings
from bucketsync.sinks.mirror import MirrorSink, MirrorStore
from bucketsync.sinks.mirror.paths import STATE_DIR

CLOCK = ObservationClock()


@pytest.fixture
def s3() -> Any:
    """An S3 client that never reaches the network: nothing here downloads."""
    return boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def owing(tmp_path: Path) -> Iterator[MirrorStore]:
    """A mirror's store that owes a rebuild."""
    with MirrorStore(tmp_path / "root" / STATE_DIR / "state.sqlite") as store:
        store.need_rebuild("a test")
        yield store


class Rebuilds:
    """A rebuild that records who asked, and clears the store's debt unless told to fail."""

    def __init__(self, fail: int = 0) -> None:
        self.asked: list[tuple[MirrorSink, Any, str]] = []
        self.fail = fail

    def __call__(self, sink: MirrorSink, s3: Any, bucket: str) -> None:
        self.asked.append((sink, s3, bucket))
        if self.fail:
            self.fail -= 1
            raise RetryableError("the listing failed")
        sink.store.rebuilt()


def removed(key: str) -> Update:
    return Update("b", key, ABSENT, CLOCK.stamp(), ())


def test_a_store_that_owes_a_rebuild_is_rebuilt_by_what_the_sink_was_handed(
    s3: Any, owing: MirrorStore, tmp_path: Path
) -> None:
    # GIVEN a mirror over a store that owes a rebuild, handed a rebuild of its own
    rebuild = Rebuilds()
    sink = MirrorSink(s3, tmp_path / "root", store=owing, rebuild=rebuild)
    try:
        # WHEN a batch of events comes
        results = sink.apply([removed("a.txt")])
        # THEN the sink asked for the rebuild first (itself, its client, the batch's bucket)
        assert rebuild.asked == [(sink, s3, "b")]
        assert results == [Outcome.APPLIED]
        # AND, the store rebuilt, the next batch asks for nothing
        assert sink.apply([removed("b.txt")]) == [Outcome.APPLIED]
        assert len(rebuild.asked) == 1
    finally:
        sink.close()


def test_a_rebuild_that_fails_fails_the_batch_and_is_asked_for_again_before_the_next(
    s3: Any, owing: MirrorStore, tmp_path: Path
) -> None:
    # GIVEN a mirror whose store owes a rebuild, and a rebuild that fails once
    rebuild = Rebuilds(fail=1)
    sink = MirrorSink(s3, tmp_path / "root", store=owing, rebuild=rebuild)
    try:
        # WHEN a batch comes THEN it fails with the rebuild's error, nothing applied
        [result] = sink.apply([removed("a.txt")])
        assert isinstance(result, RetryableError)
        assert owing.get("a.txt") is None
        # WHEN the batch comes again THEN the rebuild is asked for again, then it applies
        assert sink.apply([removed("a.txt")]) == [Outcome.APPLIED]
        assert len(rebuild.asked) == 2
    finally:
        sink.close()


def test_reconciles_repairs_go_straight_to_the_sink(
    s3: Any, owing: MirrorStore, tmp_path: Path
) -> None:
    # GIVEN a mirror whose store owes a rebuild
    rebuild = Rebuilds()
    sink = MirrorSink(s3, tmp_path / "root", store=owing, rebuild=rebuild)
    try:
        # WHEN a reconcile's repair comes (the rebuild's own among them)
        repair = Update("b", "a.txt", ABSENT, CLOCK.stamp(), (), origin="listing")
        # THEN it is applied without asking for a rebuild
        assert sink.apply([repair]) == [Outcome.APPLIED]
        assert rebuild.asked == []
    finally:
        sink.close()


def test_a_mirror_built_without_a_rebuild_fails_the_batch_and_says_so(
    s3: Any, owing: MirrorStore, tmp_path: Path
) -> None:
    # GIVEN a mirror over a store that owes a rebuild, built without one (reconcile is imported
    # here, and still nothing names a rebuild for it behind its back)
    sink = MirrorSink(s3, tmp_path / "root", store=owing)
    try:
        # WHEN a batch of events comes
        [result] = sink.apply([removed("a.txt")])
        # THEN it fails with a ConfigurationError naming the cause, and nothing is applied
        assert isinstance(result, ConfigurationError)
        assert "built without a rebuild" in str(result)
        assert "a test" in str(result)
        assert owing.get("a.txt") is None
        assert owing.rebuild_reason == "a test"
    finally:
        sink.close()


def test_the_composition_hands_its_mirrors_reconciles_rebuild(tmp_path: Path) -> None:
    # GIVEN the settings of a mirror
    settings = Settings(mirror_dir=str(tmp_path / "root"), region="us-east-1")
    # WHEN the composition builds it THEN its rebuild is reconcile's full sync
    sink = build_mirror(settings, Clients(settings))
    assert sink is not None
    try:
        assert sink.rebuild is reconcile_mirror.rebuild
    finally:
        sink.close()
