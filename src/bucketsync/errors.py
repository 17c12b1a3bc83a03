"""Errors bucketsync raises, classified by what the caller should do about them.

    BucketSyncError
    ├── MalformedEventError      poison: the input can never be processed; retrying is useless
    ├── MalformedFileError       a data file that cannot be parsed at all (bad rows are values)
    ├── ConfigurationError       settings or environment wrong (no table, denied); say which
    ├── RetryableError           transient: throttling, timeouts, 5xx; retry the same input later
    │   └── UnfinishedError      no fault: a load checkpointed before Lambda's deadline; the
    │                            next delivery resumes it (not backed off, not a pause)
    ├── SinkWriteError           a sink refused one write for a reason that is not transient
    ├── RefusingToDeleteError    a reconcile run saw errors, so it deletes nothing
    ├── LostLeaseError           a records load was overtaken: it stops, gives the file up
    └── RowValueError            one row's value DynamoDB cannot store (reported, not raised)

botocore's ``ClientError`` is caught only where an AWS call is made, and translated at once by
``bucketsync.aws.errors.translate`` (``raise ... from exc``), so the engine and everything
above it only ever see these types.
Stale and duplicate changes are *not* errors: they are normal outcomes of at-least-once,
out-of-order delivery and are reported as such by the sinks.

Whose fault a failed message is (``fault_of``, the one place that decides) tells the runtimes
what to do with it; the type is the first clue, the operating-system error under it the last
word (a full disk is nobody's message's fault, whatever error type carries it):

    Fault.POISON          the message's: it fails alone and reaches the DLQ after the queue's
                          receives (malformed events and files, a refused item, a bug)
    Fault.CONFIGURATION   ours, lasting until someone acts: table, queue or bucket missing,
                          access denied, a read-only mirror. Keep the message; stop or pause
    Fault.TRANSIENT       ours, passing: throttling, 5xx, timeouts, a full disk. Keep the
                          message; retry it with backoff
"""

from __future__ import annotations

import errno
import sqlite3
from enum import Enum


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


class UnfinishedError(RetryableError):
    """Work checkpointed before the invocation's deadline: the message's next delivery resumes
    it. A retry, but no fault: the runtimes neither back it off nor fail a batch for it."""


class SinkWriteError(BucketSyncError):
    """A sink refused a write for a non-transient reason (validation, item too large)."""


class RefusingToDeleteError(BucketSyncError):
    """A reconcile run saw an error, so it will not delete anything."""


class LostLeaseError(BucketSyncError):
    """A records load lost its lease (a newer version claimed the file, or the lease ran out):
    it stops and gives the file up; the newer version writes the rows."""


class RowValueError(BucketSyncError, ValueError):
    """A row holds a value DynamoDB cannot store; the message says which and why. A value of
    the row, reported beside the good rows, never raised out of a load."""


def is_retryable(exc: BaseException) -> bool:
    """The one place that decides whether a failure is worth retrying."""
    return isinstance(exc, RetryableError)


class Fault(Enum):
    """Whose fault a failure is: see the module's docstring."""

    POISON = "poison"
    CONFIGURATION = "configuration"
    TRANSIENT = "transient"

    @property
    def ours(self) -> bool:
        """Not the message's: the message must be kept, not spent on retries."""
        return self is not Fault.POISON


# A read-only or forbidden file system stays so until someone acts; a full one (or a quota, a
# failing device) until space is freed, which may happen without us.
_LASTING_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
_PASSING_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.ENOMEM})
# SQLite (the mirror's state store) says the same with its own primary result codes.
# SQLITE_READONLY, SQLITE_CORRUPT, SQLITE_CANTOPEN, SQLITE_AUTH, SQLITE_NOTADB: a damaged or
# unreachable store is ours, never the message's (the mirror's store rebuilds itself).
_SQLITE_LASTING = frozenset({8, 11, 14, 23, 26})
_SQLITE_PASSING = frozenset({5, 6, 10, 13})  # SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL


def fault_of(exc: BaseException) -> Fault:
    """Whose fault ``exc`` is: the one decision every runtime acts on.

    The cause chain is searched for an operating-system (or SQLite) error first: the disk
    behaves the same whichever layer wrapped its error. Otherwise the type decides; anything
    unclassified (a refused item, a bug) is the message's, so it can never hold the queue.
    """
    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno is not None:
            if link.errno in _LASTING_ERRNOS:
                return Fault.CONFIGURATION
            if link.errno in _PASSING_ERRNOS:
                return Fault.TRANSIENT
        if isinstance(link, sqlite3.Error):
            code = getattr(link, "sqlite_errorcode", None)
            primary = code & 0xFF if isinstance(code, int) else None
            if primary in _SQLITE_LASTING:
                return Fault.CONFIGURATION
            if primary in _SQLITE_PASSING:
                return Fault.TRANSIENT
    if isinstance(exc, ConfigurationError):
        return Fault.CONFIGURATION
    if isinstance(exc, RetryableError | TimeoutError | ConnectionError):
        return Fault.TRANSIENT
    return Fault.POISON


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, cycles cut."""
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and all(link is not other for other in seen):
        seen.append(link)
        link = link.__cause__ or link.__context__
    return seen
