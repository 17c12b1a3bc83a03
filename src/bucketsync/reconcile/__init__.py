"""Reconcile: make a sink equal to the bucket, whatever was lost (docs/reconcile.md)."""

from __future__ import annotations

from bucketsync.reconcile.drift import (
    Drift,
    Fingerprint,
    catalog_fingerprints,
    compare,
    list_bucket,
)

__all__ = ["Drift", "Fingerprint", "catalog_fingerprints", "compare", "list_bucket"]
