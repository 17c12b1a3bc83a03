"""One GetObject streamed into one file, atomically: the file is the old one or the whole new one.

    GetObject(IfMatch=etag | VersionId, ChecksumMode=ENABLED)   (aws.presigned: a presigned URL)
      → stream 1 MiB chunks into <dir>/.bucketsync-XXXX (MD5 alongside when it can be checked)
      → fsync → mtime = LastModified → mark (the key) → identity (fstat) → rename over
        <dir>/<name> → fsync <dir>

Integrity: botocore checks S3's additional checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256)
while the body is read and raises ``FlexibleChecksumError`` on a mismatch. Without one, the
etag is compared with the body's MD5 when it is one: a single-part upload without SSE-KMS,
DSSE-KMS or SSE-C. A multipart etag (``<hex>-<parts>``) is not a digest of the body, so it is not
checked, and never reported as corruption. Any failure removes the temporary file.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from stat import S_ISREG
from typing import Any, BinaryIO

from bucketsync.aws.presigned import Got, ObjectGetter, read_chunk
from bucketsync.errors import ClashError, RetryableError, SinkWriteError, TooLargeError
from bucketsync.sinks.mirror.marks import mark
from bucketsync.sinks.mirror.paths import STATE_DIR
from bucketsync.sinks.mirror.store import Entry, Identity

log = logging.getLogger(__name__)

CHUNK = 1 << 20
TEMP_PREFIX = STATE_DIR + "-"  # no key maps to a name starting so (see paths)
_MD5_ETAG = re.compile(r"[0-9a-f]{32}")
_NOT_MD5_ENCRYPTION = frozenset({"aws:kms", "aws:kms:dsse"})
# Out of space or a failing disk can recover; anything else (permissions...) will not.
_TRANSIENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN})


@dataclass(frozen=True, slots=True)
class Fetched:
    size: int
    etag: str | None
    verified: str  # how the bytes were checked: "checksum", "md5" or "none"
    identity: Identity  # of the file as renamed into place


def file_mode() -> int:
    """The mode a new file gets here (0666 less the umask), read without changing the umask."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    return 0o644


def md5_checkable(got: Got) -> bool:
    """Whether the etag S3 gave is the MD5 of the body."""
    return bool(
        got.etag
        and _MD5_ETAG.fullmatch(got.etag)
        and got.encryption not in _NOT_MD5_ENCRYPTION
        and not got.customer_key
    )


def fetch(
    getter: ObjectGetter,
    bucket: str,
    key: str,
    target: Path,
    *,
    etag: str | None,
    version_id: str | None,
    verify: bool = True,
    max_bytes: int | None = None,
    read_timeout: float | None = None,
    mode: int = 0o644,
) -> Fetched | None:
    """Write the object to ``target``; None when that version is no longer there.

    Raises ``TooLargeError``, ``ClashError``, ``RetryableError`` (network, checksum, disk
    full) or ``SinkWriteError``; ``target`` is then untouched.
    """
    # IfMatch pins the content the update names while it is current: an outdated update can
    # never write outdated bytes. A version id pins even an old version, so it comes second.
    # With verify, botocore checks S3's additional checksum as the body is read.
    got = getter.open(
        bucket,
        key,
        if_match=f'"{etag}"' if etag else None,
        version_id=None if etag else version_id,
        checksum=verify,
    )
    if got is None:
        return None
    try:
        return _write(
            got,
            target,
            key=key,
            where=f"s3://{bucket}/{key}",
            verify=verify,
            max_bytes=max_bytes,
            read_timeout=read_timeout,
            mode=mode,
        )
    finally:
        got.body.close()


def _write(
    got: Got,
    target: Path,
    *,
    key: str,
    where: str,
    verify: bool,
    max_bytes: int | None,
    read_timeout: float | None,
    mode: int,
) -> Fetched:
    length = got.length or 0
    if max_bytes is not None and length > max_bytes:
        raise TooLargeError(length)
    if read_timeout:
        _set_read_timeout(got.body, read_timeout)
    # One end-to-end check is enough: a full-object checksum S3 stored at upload (checked by
    # botocore as the body is read) makes an MD5 of the same bytes redundant CPU.
    checksum = verify and bool(got.checksums)
    md5 = (
        hashlib.md5(usedforsecurity=False)
        if verify and not checksum and md5_checkable(got)
        else None
    )
    fd, temp = _open_temp(target)
    try:
        try:
            with os.fdopen(fd, "wb") as out:
                size = _stream(got.body, out, md5, where)
                if size != length:
                    raise RetryableError(f"{where}: got {size} of {length} bytes")
                if md5 is not None and md5.hexdigest() != got.etag:
                    raise RetryableError(
                        f"{where}: MD5 {md5.hexdigest()} does not match etag {got.etag}"
                    )
                identity = _finish(out.fileno(), target, key, mode, got.last_modified)
        except OSError as exc:  # closing it: the writes map their own errors
            raise disk_error(exc, f"{where}: cannot write the file") from exc
        _install(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    try:
        _fsync_dir(target.parent)
    except OSError as exc:  # the file is in place; only the rename's durability is in doubt
        log.warning("cannot fsync %s: %s", target.parent, exc)
    verified = "checksum" if checksum else "md5" if md5 is not None else "none"
    return Fetched(size, got.etag, verified, identity)


def _finish(fd: int, target: Path, key: str, mode: int, modified: object) -> Identity:
    """Give the written file its mode, the object's time and the mirror's mark, and read back
    its identity.

    Through the descriptor, so the identity is the very file renamed next (by its name, the
    temporary file could be another by then)."""
    try:
        os.fchmod(fd, mode)
        if isinstance(modified, datetime):
            ns = int(modified.timestamp() * 1e9)
            os.utime(fd, ns=(ns, ns))
        mark(fd, key)
        return Identity.of(os.fstat(fd))
    except OSError as exc:
        raise disk_error(exc, f"cannot write {target}") from exc


def _install(temp: Path, target: Path) -> None:
    """Rename the finished temporary file over ``target``."""
    try:
        os.replace(temp, target)
    except (IsADirectoryError, NotADirectoryError) as exc:
        raise ClashError(f"{target} is a directory (another key's)") from exc
    except OSError as exc:
        raise disk_error(exc, f"cannot write {target}") from exc


def _open_temp(target: Path) -> tuple[int, Path]:
    """A new empty file beside ``target`` (its directories made): descriptor and path."""
    for _ in range(3):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise ClashError(f"a parent of {target} is a file (another key's)") from exc
        except OSError as exc:
            raise disk_error(exc, f"cannot create {target.parent}") from exc
        try:
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
        except FileNotFoundError:
            continue  # a delete pruned the directory just made: make it again
        except OSError as exc:
            raise disk_error(exc, f"cannot write in {target.parent}") from exc
        return fd, Path(name)
    raise RetryableError(f"{target.parent} keeps disappearing")


def _stream(body: Any, out: BinaryIO, md5: Any, where: str) -> int:
    """Copy the body into ``out`` and fsync it; the bytes copied."""
    size = 0
    try:
        # A checksum mismatch, a read timeout, a cut connection: RetryableError (read_chunk).
        while chunk := read_chunk(body, CHUNK, where):
            if md5 is not None:
                md5.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    except OSError as exc:
        raise disk_error(exc, f"{where}: cannot write the file") from exc
    return size


def recheck(fd: int, entry: Entry) -> Identity | None:
    """The identity of the open file ``fd`` if its content is the object ``entry`` names,
    checked by MD5 against the etag; None if it is not, or cannot be checked (a multipart or
    encrypted object's etag is no MD5). For rows written before identities were kept."""
    return md5_identity(fd, entry.etag, entry.size)


def is_md5_form(etag: str | None) -> bool:
    """32 hex digits: an etag that may be the body's MD5 (single-part, no SSE-KMS or SSE-C)."""
    return bool(etag and _MD5_ETAG.fullmatch(etag))


def md5_identity(fd: int, etag: str | None, size: int | None) -> Identity | None:
    """The identity of the open file ``fd`` if it is a regular file of ``size`` bytes whose
    MD5 is ``etag``, and it did not change while it was read; None otherwise."""
    try:
        stat = os.fstat(fd)
        if not (S_ISREG(stat.st_mode) and is_md5_form(etag)):
            return None
        if stat.st_size != size:
            return None
        md5 = hashlib.md5(usedforsecurity=False)
        offset = 0
        while chunk := os.pread(fd, CHUNK, offset):
            md5.update(chunk)
            offset += len(chunk)
        again = os.fstat(fd)
    except OSError:
        return None
    if md5.hexdigest() != etag or Identity.of(again) != Identity.of(stat):
        return None  # another file, or one written to while it was read
    return Identity.of(stat)


def recheck_file(path: Path, entry: Entry) -> Identity | None:
    """``recheck`` of the file at ``path`` (not followed if it is a link)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return recheck(fd, entry)
    finally:
        os.close(fd)


def disk_error(exc: OSError, message: str) -> RetryableError | SinkWriteError:
    """The error an update fails with when the disk refuses: retryable while it may recover."""
    if exc.errno in _TRANSIENT_ERRNOS or isinstance(exc, TimeoutError):
        return RetryableError(f"{message}: {exc}")
    return SinkWriteError(f"{message}: {exc}")


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (the file's bytes already are)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _set_read_timeout(body: Any, seconds: float) -> None:
    """A socket timeout for the body's reads; the client's own read_timeout covers the rest.

    botocore reaches into urllib3 for this; where that no longer works, the client's timeout
    still applies, so it is only logged.
    """
    try:
        body.set_socket_timeout(seconds)
    except AttributeError:
        log.debug("cannot set a read timeout on this response body")
