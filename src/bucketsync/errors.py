"""Errors bucketsync raises, classified by what the caller should do about them.

Every error class bucketsync defines belongs in this one tree (a module's private ``_Name``,
raised and caught inside it, aside; ``tests/unit/test_structure.py`` names any still
defined elsewhere). The part of bucketsync that raises one is in parentheses:

    BucketSyncError
    ├── MalformedEventError      poison: the input can never be processed; retrying is useless
    ├── MalformedFileError       a data file that cannot be parsed at all (bad rows are values)
    ├── ConfigurationError       settings or environment wrong (no table, denied); say which
    │   └── StoreCorruptError    the mirror's state store is damaged: ours and lasting; the
    │                            worker pauses, the store is set aside and rebuilt (mirror)
    ├── RetryableError           transient: throttling, timeouts, 5xx; retry the same input later
    │   ├── UnfinishedError      no fault: a load checkpointed before Lambda's deadline; the
    │   │                        next delivery resumes it (not backed off, not a pause)
    │   └── UnansweredError      a POST sent whole got no answer in time: not sent again in
    │                            this invocation, the queue delivers it later (forwarder)
    ├── SinkWriteError           a sink refused one write for a reason that is not transient
    │   ├── TooLargeError        the object is over the size limit: recorded, not written (mirror)
    │   └── ClashError           another key's directory or file holds the path: the key is
    │                            recorded as refused (mirror)
    ├── UnsafeKeyError           a key the mirror will not write, and why: recorded as refused;
    │                            the service answers 400 (mirror)
    ├── RefusingToDeleteError    a reconcile run saw errors (or reached --max-delete), so the
    │                            delete is not made: counted not_deleted, exit code 2
    ├── ListingError             the bucket's listing failed or cannot be trusted: the march
    │                            stops there and the run deletes nothing (reconcile)
    ├── CancelledError           the run was asked to stop: it ends early, deleting nothing
    │                            (reconcile)
    ├── RefusedError             the service answered a 3xx or 4xx that no retry will change:
    │                            the event fails at once, to the DLQ in time (forwarder)
    ├── SignatureError           (a ValueError too) a request not signed with the shared
    │                            secret, or not recently: the service answers 403 (signing)
    ├── EmulatorError            the local emulator could not start, or is not running (local)
    ├── ServiceBusyError         409: a full sync is already running (service)
    ├── NoBucketError            409: the request needs a bucket and none is configured (service)
    ├── NotFoundError            404: no such file in the mirror, no such sync job (service)
    ├── CursorError              400 (a ValueError too): a listing cursor this service did not
    │                            make for this listing (service)
    ├── RejectedError            422: a well-formed request the service will not carry out
    │                            (service)
    ├── LostLeaseError           a records load was overtaken: it stops and gives the file up
    │                            at once; the newer version writes the rows (records)
    └── RowValueError            (a ValueError too) one row's value DynamoDB cannot store:
                                 reported beside the good rows, never raised out of a load

The service maps each to its HTTP status in ``api.errors``; the rest of the library's errors
are answered there too (a transient one 503 with ``Retry-After``).

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


class StoreCorruptError(ConfigurationError):
    """The mirror's state store file is damaged: ours to fix (it is rebuilt), never a
    message's."""


class UnansweredError(RetryableError):
    """The request was sent whole and no answer came in time: the service may be applying it,
    so this invocation does not send it again (see ``runtimes.forwarder``)."""


class TooLargeError(SinkWriteError):
    """The object turned out larger than the limit (GetObject's length); nothing written."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(size)


class ClashError(SinkWriteError):
    """The path is taken by a directory, or a parent of it by a file: another key's."""


class UnsafeKeyError(BucketSyncError):
    """A key the mirror will not write, and why (``reason``); nothing was touched."""

    def __init__(self, key: str, reason: str = "refused") -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key!r}: {reason}")


class RefusingToDeleteError(BucketSyncError):
    """A delete reconcile will not make: the run saw an error, or ``--max-delete`` is
    reached. The message says which."""


class ListingError(BucketSyncError):
    """The bucket's listing failed or cannot be trusted (out of order, truncated, corrupt)."""


class CancelledError(BucketSyncError):
    """The reconcile run was asked to stop."""


class RefusedError(BucketSyncError):
    """The service answered with a status no retry will change (a 3xx, a 4xx)."""


class SignatureError(BucketSyncError, ValueError):
    """The request is not signed with the shared secret, or not recently; says which."""


class EmulatorError(BucketSyncError):
    """The emulator could not be started, or was used when not running."""


class ServiceBusyError(BucketSyncError):
    """A full sync is already running; one at a time."""


class NoBucketError(BucketSyncError):
    """The request needs ``bucket`` (BUCKETSYNC_BUCKET or S3_BUCKET_NAME) and it is unset."""


class NotFoundError(BucketSyncError):
    """No such file in the mirror, or no such sync job."""


class CursorError(BucketSyncError, ValueError):
    """A cursor this service did not make for this listing; the message says why, in one line."""


class RejectedError(BucketSyncError):
    """A well-formed request that will never be carried out here: a notification of another
    bucket, a sync of a prefix outside the mirror's."""


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
