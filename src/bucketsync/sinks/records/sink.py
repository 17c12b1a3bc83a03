"""The records sink: routes each changed object to the tables its rules name, and loads it.

A key no rule matches is ``SKIPPED``. A file that cannot be parsed at all is ``REJECTED``:
recorded in its manifest, not retried (the same bytes would fail again). A newer version
waiting for an older load's lease, or a load out of Lambda time, is a ``RetryableError``, so
the message comes back and the load resumes from its checkpoint.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Iterator, Sequence

from bucketsync.engine.state import Held
from bucketsync.engine.update import Outcome, Update
from bucketsync.errors import BucketSyncError
from bucketsync.record_routes import Route, routes_for
from bucketsync.sinks.records.formats import FormatOptions
from bucketsync.sinks.records.index import manifests
from bucketsync.sinks.records.job import LoadOutcome, LoadReport
from bucketsync.sinks.records.loader import FileLoader
from bucketsync.sinks.records.manifest import ManifestStore
from bucketsync.sinks.records.target import Target

log = logging.getLogger(__name__)


def target_of(route: Route, manifest_table: str | None = None) -> Target:
    options = FormatOptions(
        kind=route.format,
        delimiter=route.csv.delimiter,
        quotechar=route.csv.quotechar,
        column_types=dict(route.csv.column_types),
    )
    return Target(
        table=route.table,
        options=options,
        key_fields=tuple(route.key),
        manifest_table=manifest_table,
    )


class RecordsSink:
    name = "records"

    def __init__(
        self, loader: FileLoader, routes: Sequence[Route], *, manifest_table: str | None = None
    ) -> None:
        """``manifest_table`` holds the manifests of rules whose rows carry their own keys."""
        self._loader = loader
        self._routes = list(routes)
        self._manifest_table = manifest_table

    def routes(self, bucket: str, key: str) -> list[Route]:
        """The rules that load this key (a rule never reads the error reports it writes)."""
        return [
            route
            for route in routes_for(self._routes, bucket, key)
            if not (route.errors_prefix and key.startswith(route.errors_prefix))
        ]

    def in_scope(self, bucket: str, key: str) -> bool:
        return bool(self.routes(bucket, key))

    def listing(
        self, bucket: str, prefix: str = "", start_after: str = "", upto: str | None = None
    ) -> Iterator[Held]:
        """One entry per routed file, merged over the manifests of every table its rules name:
        equal to a version only where every one of them holds that version."""
        client = self._loader.dynamodb
        stores = {_where(store): store for store in map(self._store, self._routes)}
        streams = [
            _tagged(
                where, manifests(client, store, bucket, prefix, start_after=start_after, upto=upto)
            )
            for where, store in stores.items()
        ]
        for key, group in itertools.groupby(heapq.merge(*streams), key=lambda entry: entry[0]):
            found = {where: held for _, where, held in group}
            wanted = {_where(self._store(route)) for route in self.routes(bucket, key)}
            if wanted:  # a file no rule routes any more is left as it is
                yield merged(key, [found.get(where) for where in sorted(wanted)])

    def _store(self, route: Route) -> ManifestStore:
        return target_of(route, self._manifest_table).manifests(self._loader.dynamodb)

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]:
        results: list[Outcome | BaseException] = []
        for update in updates:
            routes = self.routes(update.bucket, update.key)
            if not routes:
                results.append(Outcome.SKIPPED)
                continue
            try:
                reports = [self._one(route, update) for route in routes]
            except BucketSyncError as exc:
                results.append(exc)
                continue
            results.append(_combined(reports))
        return results

    def _one(self, route: Route, update: Update) -> LoadReport:
        target = target_of(route, self._manifest_table)
        if not update.state.present:
            return self._loader.remove(
                target,
                update.bucket,
                update.key,
                update.stamp,
                seen=update.seen,
                origin=update.origin,
            )
        report = self._loader.load(
            target,
            update.bucket,
            update.key,
            update.stamp,
            etag=update.state.etag,
            version_id=update.state.version_id,
            size=update.state.size,
            seen=update.seen,
            origin=update.origin,
        )
        if route.errors_prefix and (report.bad or report.outcome == LoadOutcome.REJECTED):
            self._loader.publish(update.bucket, route.errors_prefix, update.key, report)
        if report.outcome == LoadOutcome.APPLIED:
            log.info(
                "s3://%s/%s → %s: %d rows, %d bad, generation %d, %d stale rows removed",
                update.bucket,
                update.key,
                route.table,
                report.rows,
                report.bad,
                report.gen,
                report.swept,
            )
        return report

    def close(self) -> None:
        """Nothing pooled: each load's writer closes its own threads."""


def _where(store: ManifestStore) -> tuple[str, str]:
    return store.table, store.sk


def _tagged(
    where: tuple[str, str], helds: Iterator[Held]
) -> Iterator[tuple[str, tuple[str, str], Held]]:
    for held in helds:
        yield held.key, where, held


def merged(key: str, helds: Sequence[Held | None]) -> Held:
    """One file's manifests as one entry: a version only if every table holds that one."""
    known = [held for held in helds if held is not None]
    first = known[0] if known else Held(key, "", True)
    if len(known) < len(helds) or len({(h.present, h.etag, h.size) for h in known}) > 1:
        return Held(key, first.stamp, True, None, None, first.wrote)  # equal to nothing
    return first


def _combined(reports: Sequence[LoadReport]) -> Outcome:
    outcomes = {r.outcome for r in reports}
    if LoadOutcome.CONFIRM in outcomes:
        return Outcome.CONFIRM  # the retry finds the tables already done stale
    if LoadOutcome.APPLIED in outcomes:
        return Outcome.APPLIED
    if LoadOutcome.REJECTED in outcomes:
        return Outcome.REJECTED
    return Outcome.STALE
