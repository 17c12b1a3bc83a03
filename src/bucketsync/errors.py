"""Errors bucketsync raises, classified by what the caller should do about them.

    BucketSyncError
    ├── MalformedEventError      poison: the input can never be processed; retrying is useless
    ├── MalformedFileError       a data file that cannot be parsed at all (bad rows are values)
    ├── ConfigurationError       fatal: settings are wrong; stop and say which
    ├── RetryableError           transient: throttling, timeouts, 5xx; retry the same input later
    ├── SinkWriteError           a sink refused one write for a reason that is not transient
    └── RefusingToDeleteError    a reconcile run saw errors, so it deletes nothing

botocore's ``ClientError`` is caught only where an AWS call is made, and translated at once by
``bucketsync.aws.errors.translate`` (``raise ... from exc``), so the engine and everything
above it only ever see these types.
Stale and duplicate changes are *not* errors: they are normal outcomes of at-least-once,
out-of-order delivery and are reported as such by the sinks.
"""

from __future__ import annotations


class BucketSyncError(Exception):
    """Base of every error bucketsync raises on purpose."""


class MalformedEventError(BucketSyncError):
    """An event body that cannot be turned into change records.

    ``path`` names where in the payload the problem is (``Records[0].s3.object.key``),
    so a message in a DLQ can be diagnosed from the log line alone.
    """

    def __init__(self, reason: str, path: str = "") -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}" if path else reason)


class MalformedFileError(BucketSyncError):
    """A data file that cannot be read as its format at all (not gzip, not JSON...).

    A bad *row* is not an exception: parsers yield it as a value, next to the good rows.
    """

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}" if line is not None else reason)


class ConfigurationError(BucketSyncError):
    """Settings that cannot work (missing table name, bad endpoint...)."""


class RetryableError(BucketSyncError):
    """A transient failure: the same input may succeed later."""


class SinkWriteError(BucketSyncError):
    """A sink refused a write for a non-transient reason (validation, item too large)."""


class RefusingToDeleteError(BucketSyncError):
    """A reconcile run saw an error, so it will not delete anything."""


def is_retryable(exc: BaseException) -> bool:
    """The one place that decides whether a failure is worth retrying."""
    return isinstance(exc, RetryableError)
