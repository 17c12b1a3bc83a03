"""bucketsync: keep DynamoDB and local mirrors exactly in sync with S3 buckets, event-driven."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
