"""The records sink: routes each changed object to the tables its rules name, and loads it.

A key no rule matches is ``SKIPPED``. A file that cannot be parsed at all is ``REJECTED``:
recorded in its manifest, not retried (the same bytes would fail again). A newer version
waiting for an older load's lease, or a load out of Lambda time, is a ``RetryableError``, so
the message comes back and the load resumes from its checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bucketsync.engine.state import Outcome, Update
from bucketsync.errors import BucketSyncError
from bucketsync.routes import Route, routes_for
from bucketsync.sinks.records.formats import FormatOptions
from bucketsync.sinks.records.loader import FileLoader, LoadReport, Target

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

    def apply(self, updates: Sequence[Update]) -> list[Outcome | BaseException]:
        results: list[Outcome | BaseException] = []
        for update in updates:
            # A rule never reads the error reports it writes.
            routes = [
                route
                for route in routes_for(self._routes, update.bucket, update.key)
                if not (route.errors_prefix and update.key.startswith(route.errors_prefix))
            ]
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
            return self._loader.remove(target, update.bucket, update.key, update.stamp)
        report = self._loader.load(
            target,
            update.bucket,
            update.key,
            update.stamp,
            etag=update.state.etag,
            version_id=update.state.version_id,
        )
        if route.errors_prefix and (report.bad or report.outcome == "rejected"):
            self._loader.publish(update.bucket, route.errors_prefix, update.key, report)
        if report.outcome == "applied":
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


def _combined(reports: Sequence[LoadReport]) -> Outcome:
    outcomes = {r.outcome for r in reports}
    if "applied" in outcomes:
        return Outcome.APPLIED
    if "rejected" in outcomes:
        return Outcome.REJECTED
    return Outcome.STALE
