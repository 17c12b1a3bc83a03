"""``errors.fault_of``: whose fault a failure is, decided in one place, by behaviour."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from bucketsync.aws.errors import translate
from bucketsync.errors import (
    BucketSyncError,
    ConfigurationError,
    Fault,
    MalformedEventError,
    MalformedFileError,
    RetryableError,
    SinkWriteError,
    fault_of,
)


def client_error(code: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PutItem")


@pytest.mark.parametrize(
    ("code", "status", "fault"),
    [
        ("ResourceNotFoundException", 400, Fault.CONFIGURATION),  # the table is missing
        ("AWS.SimpleQueueService.NonExistentQueue", 400, Fault.CONFIGURATION),
        ("AccessDenied", 403, Fault.CONFIGURATION),
        ("AccessDeniedException", 400, Fault.CONFIGURATION),
        ("ExpiredToken", 400, Fault.CONFIGURATION),
        ("NoSuchBucket", 404, Fault.CONFIGURATION),
        ("ProvisionedThroughputExceededException", 400, Fault.TRANSIENT),
        ("ThrottlingException", 400, Fault.TRANSIENT),
        ("SlowDown", 503, Fault.TRANSIENT),
        ("InternalError", 500, Fault.TRANSIENT),
        ("TooManyRequestsException", 429, Fault.TRANSIENT),
        ("OverLimit", 403, Fault.TRANSIENT),  # SQS: too many in flight, not a permission
        ("ValidationException", 400, Fault.POISON),  # one item too large: the message's
        ("InvalidObjectState", 403, Fault.POISON),  # one archived object, not a permission
    ],
)
def test_sdk_failures_translate_to_the_fault_they_are(code: str, status: int, fault: Fault) -> None:
    assert fault_of(translate(client_error(code, status), "PutItem")) is fault


def test_a_connection_failure_is_transient() -> None:
    exc = EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert fault_of(translate(exc, "ReceiveMessage")) is Fault.TRANSIENT


@pytest.mark.parametrize(
    ("exc", "fault"),
    [
        (MalformedEventError("not JSON", "body"), Fault.POISON),
        (MalformedFileError("not gzip"), Fault.POISON),
        (SinkWriteError("item too large"), Fault.POISON),
        (BucketSyncError("unclassified"), Fault.POISON),
        (RuntimeError("a bug in a sink"), Fault.POISON),
        (KeyError("x"), Fault.POISON),
        (ConfigurationError("no table"), Fault.CONFIGURATION),
        (RetryableError("slow down"), Fault.TRANSIENT),
        (TimeoutError(), Fault.TRANSIENT),
        (ConnectionResetError(errno.ECONNRESET, "reset"), Fault.TRANSIENT),
        (PermissionError(errno.EACCES, "denied"), Fault.CONFIGURATION),
        (OSError(errno.EROFS, "read-only"), Fault.CONFIGURATION),
        (OSError(errno.ENOSPC, "full"), Fault.TRANSIENT),
        (OSError(errno.EDQUOT, "quota"), Fault.TRANSIENT),
        (IsADirectoryError(errno.EISDIR, "a directory"), Fault.POISON),  # another key's
    ],
)
def test_each_kind_of_failure_has_its_fault(exc: BaseException, fault: Fault) -> None:
    assert fault_of(exc) is fault


def wrapped(outer: BaseException, cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise outer from inner
    except BaseException as exc:
        return exc


def test_the_disk_decides_whatever_type_carries_its_error() -> None:
    # the mirror maps a full disk to RetryableError and a read-only one to SinkWriteError: the
    # OS error underneath says whose fault it is either way
    full = wrapped(SinkWriteError("cannot write"), OSError(errno.ENOSPC, "full"))
    read_only = wrapped(RetryableError("cannot write"), OSError(errno.EROFS, "read-only"))
    clash = wrapped(SinkWriteError("a directory"), IsADirectoryError(errno.EISDIR, "dir"))
    assert fault_of(full) is Fault.TRANSIENT
    assert fault_of(read_only) is Fault.CONFIGURATION
    assert fault_of(clash) is Fault.POISON
    assert fault_of(wrapped(RuntimeError("deep"), full)) is Fault.TRANSIENT


def test_sqlite_says_the_same_with_its_result_codes(tmp_path: Path) -> None:
    # GIVEN the mirror's state store on a database opened read-only
    path = tmp_path / "state.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as refused:
        read_only.execute("INSERT INTO t VALUES (1)")
    # THEN its refusal is ours and lasting; a full disk ours and passing
    assert fault_of(refused.value) is Fault.CONFIGURATION
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # SQLITE_FULL
    assert fault_of(full) is Fault.TRANSIENT
    assert fault_of(sqlite3.IntegrityError("UNIQUE constraint failed")) is Fault.POISON


def test_a_store_that_is_not_a_database_is_ours_and_lasting(tmp_path: Path) -> None:
    # GIVEN garbage where a SQLite database should be (the mirror's store, overwritten)
    path = tmp_path / "state.db"
    path.write_bytes(b"not a database at all, sixteen bytes and more" * 100)
    with pytest.raises(sqlite3.DatabaseError) as damaged:
        sqlite3.connect(path).execute("SELECT * FROM sqlite_master").fetchall()
    # THEN the message is not to blame: it must not be dead-lettered for it
    assert fault_of(damaged.value) is Fault.CONFIGURATION


def test_a_cycle_in_the_chain_ends_the_search() -> None:
    a, b = RuntimeError("a"), RuntimeError("b")
    a.__cause__, b.__cause__ = b, a
    assert fault_of(a) is Fault.POISON


def test_only_the_message_s_own_fault_is_not_ours() -> None:
    assert [fault.ours for fault in Fault] == [False, True, True]
    assert Fault.POISON.value == "poison"


@pytest.mark.parametrize(
    "missing",
    [
        NoCredentialsError(),
        PartialCredentialsError(provider="env", cred_var="secret"),
        NoRegionError(),
    ],
    ids=["no credentials", "partial credentials", "no region"],
)
def test_missing_credentials_or_region_are_ours_and_lasting(missing: Exception) -> None:
    # Retrying cannot find credentials nobody configured: pause and say so, exit 78 on drain
    translated = translate(missing, "PutItem")
    assert isinstance(translated, ConfigurationError)
    assert fault_of(translated) is Fault.CONFIGURATION
