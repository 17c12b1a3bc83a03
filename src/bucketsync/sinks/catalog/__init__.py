"""The DynamoDB catalog of object metadata."""

from __future__ import annotations

from bucketsync.sinks.catalog.sink import CatalogSink

__all__ = ["CatalogSink"]
