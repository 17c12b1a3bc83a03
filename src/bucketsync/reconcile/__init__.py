"""Reconcile: make a sink equal to the bucket, whatever was lost (docs/reconcile.md).

The face for those above: the drift of a listing against a sink, and the mirror's full sync
(``full_sync`` now, ``PeriodicSync`` on an interval) that the service runs.
"""

from __future__ import annotations

from bucketsync.reconcile.drift import (
    Drift,
    Fingerprint,
    catalog_fingerprints,
    compare,
    list_bucket,
)
from bucketsync.reconcile.mirror import SyncReport, full_sync, scope_of
from bucketsync.reconcile.periodic import PeriodicSync

__all__ = [
    "Drift",
    "Fingerprint",
    "PeriodicSync",
    "SyncReport",
    "catalog_fingerprints",
    "compare",
    "full_sync",
    "list_bucket",
    "scope_of",
]
