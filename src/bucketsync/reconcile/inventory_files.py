"""Reading an S3 Inventory report: its manifest, its data files, their rows as ``Listed``.

A report stands in for a listing, and reconcile deletes what a listing does not hold, so a
report that is cut short, still being copied, or altered must never be read as a smaller
bucket. S3 writes the MD5 of every data file into ``manifest.json`` and the manifest's own
MD5 into ``manifest.checksum``: both are checked before a single row is believed, and any
doubt (a mismatch, a missing file, a row that does not parse) fails the whole report with
``ListingError``. Nothing is skipped: a skipped row would be a key reconcile deletes.

Rows are reduced to the bucket's current view here, at the edge. An "All versions" report
also lists noncurrent versions and delete markers; a delete marker that is the latest
version means the key is absent, as ``ListObjectsV2`` would say. CSV keys arrive URL-encoded
(a space as "+"), Parquet keys as they are. Field names differ by format (``LastModifiedDate``
in a CSV's ``fileSchema``, ``last_modified_date`` in a Parquet file's schema): both are
matched on their letters alone, lower-cased.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from bucketsync.aws.s3 import object_chunks, read_object
from bucketsync.errors import BucketSyncError, ConfigurationError, ListingError
from bucketsync.reconcile.listing import Listed

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

VERSION = "2016-11-30"  # the only manifest version S3 has written
MANIFEST = "manifest.json"
CHUNK = 1 << 20
PARQUET_BATCH = 10_000
REQUIRED = {"key": "Key", "size": "Size", "etag": "ETag"}  # without ETag nothing compares equal
_MD5 = re.compile(r"[0-9a-f]{32}")
_DIGITS = re.compile(r"[0-9]+")
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DataFile:
    key: str
    size: int
    md5: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """What ``manifest.json`` says. ``bucket`` is where the report is read: the data files
    are beside the manifest, wherever the report was delivered or copied to."""

    bucket: str
    key: str
    source_bucket: str
    file_format: str  # "CSV" or "Parquet"
    schema: tuple[str, ...]  # a CSV's columns (a Parquet file carries its own)
    created_ms: int
    files: tuple[DataFile, ...]

    @property
    def uri(self) -> str:
        return self.where(self.key)

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def column(name: str) -> str:
    """A field's name as both formats spell it: ``ETag`` and ``e_tag`` are ``etag``."""
    return re.sub(r"[^a-z]", "", name.lower())


def manifest_location(location: str, key: str | None = None) -> tuple[str, str]:
    """``s3://bucket/path/manifest.json`` (or a bucket and a key) as (bucket, key)."""
    bucket = location
    if key is None:
        scheme, _, rest = location.partition("://")
        if scheme != "s3":
            raise ConfigurationError(f"{location!r}: expected s3://bucket/path/manifest.json")
        bucket, _, key = rest.partition("/")
    if not bucket or not key:
        raise ConfigurationError(f"{location!r}: expected s3://bucket/path/manifest.json")
    if key.endswith("/"):
        key += MANIFEST
    if not key.endswith(".json"):
        raise ConfigurationError(f"s3://{bucket}/{key}: an inventory manifest is a .json file")
    return bucket, key


def parquet() -> Any:
    """``pyarrow`` with ``pyarrow.parquet`` loaded, or a ConfigurationError that says how."""
    try:
        # An optional extra: the Lambda artefact does without it. pyarrow ships no types.
        import pyarrow.parquet  # type: ignore[import-not-found,import-untyped,unused-ignore]  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigurationError(
            "reading a Parquet inventory report needs pyarrow: pip install 'bucketsync[parquet]'"
        ) from exc
    return pyarrow


def _get(s3: S3Client, bucket: str, key: str) -> bytes:
    try:
        return read_object(s3, bucket, key)
    except BucketSyncError as exc:
        raise ListingError(str(exc)) from exc


def load_manifest(s3: S3Client, bucket: str, key: str) -> Manifest:
    """The manifest at ``bucket``/``key``, once its MD5 matches ``manifest.checksum``."""
    raw = _get(s3, bucket, key)
    checksum_key = key.removesuffix(".json") + ".checksum"
    expected = _get(s3, bucket, checksum_key).decode("ascii", "replace").strip().lower()
    actual = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    if actual != expected:
        raise ListingError(
            f"s3://{bucket}/{key}: its MD5 is {actual}, but s3://{bucket}/{checksum_key} "
            f"says {expected[:40]!r}"
        )
    return parse_manifest(raw, bucket, key)


def parse_manifest(raw: bytes, bucket: str, key: str) -> Manifest:
    where = f"s3://{bucket}/{key}"
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ListingError(f"{where}: not a JSON manifest: {exc}") from exc
    if not isinstance(doc, dict):
        raise ListingError(f"{where}: not a JSON object")
    if doc.get("version") != VERSION:
        raise ListingError(f"{where}: version {doc.get('version')!r}: only {VERSION} is read")
    source = doc.get("sourceBucket")
    if not isinstance(source, str) or not _BUCKET.fullmatch(source):
        raise ListingError(f"{where}: sourceBucket {source!r} is not a bucket name")
    file_format = _format(doc.get("fileFormat"), where)
    created = doc.get("creationTimestamp")
    if not isinstance(created, str | int) or not _DIGITS.fullmatch(str(created)):
        raise ListingError(f"{where}: creationTimestamp {created!r} is not milliseconds")
    files = doc.get("files")
    if not isinstance(files, list):
        raise ListingError(f"{where}: no list of files")
    schema: tuple[str, ...] = ()
    if file_format == "CSV":
        declared = doc.get("fileSchema")
        if not isinstance(declared, str):
            raise ListingError(f"{where}: fileSchema {declared!r} is not a list of fields")
        schema = tuple(column(name) for name in declared.split(","))
        _require(schema, where)
    entries = tuple(_data_file(entry, n, where) for n, entry in enumerate(files))
    return Manifest(bucket, key, source, file_format, schema, int(created), entries)


def _format(value: Any, where: str) -> str:
    name = value.upper() if isinstance(value, str) else ""
    if name == "CSV":
        return "CSV"
    if name == "PARQUET":
        parquet()  # no pyarrow: say so now, not after the first download
        return "Parquet"
    if name == "ORC":
        raise ConfigurationError(
            f"{where}: ORC inventory reports are not supported: "
            "configure the inventory as CSV or Parquet"
        )
    raise ListingError(f"{where}: fileFormat {value!r}: expected CSV or Parquet")


def _require(columns: Sequence[str], where: str) -> None:
    missing = [name for field, name in REQUIRED.items() if field not in columns]
    if missing:
        raise ListingError(f"{where}: the report has no {', '.join(missing)} field")


def _data_file(entry: Any, n: int, where: str) -> DataFile:
    if isinstance(entry, dict):
        key, size, md5 = entry.get("key"), entry.get("size"), entry.get("MD5checksum")
        if (
            isinstance(key, str)
            and key
            and isinstance(size, int)
            and not isinstance(size, bool)
            and size >= 0
            and isinstance(md5, str)
            and _MD5.fullmatch(md5.lower())
        ):
            return DataFile(key, size, md5.lower())
    raise ListingError(f"{where}: files[{n}] is not a key, size and MD5checksum: {entry!r:.200}")


def download(s3: S3Client, manifest: Manifest, data: DataFile, path: Path) -> Path:
    """``data`` copied to ``path``, once its size and MD5 match the manifest's."""
    where = manifest.where(data.key)
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    try:
        with path.open("wb") as out:
            for chunk in object_chunks(s3, manifest.bucket, data.key, CHUNK):
                md5.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except BucketSyncError as exc:
        raise ListingError(str(exc)) from exc
    except OSError as exc:
        raise ListingError(f"{where}: cannot copy it to {path}: {exc}") from exc
    if size != data.size:
        raise ListingError(f"{where}: {size} bytes, but the manifest says {data.size}")
    if md5.hexdigest() != data.md5:
        raise ListingError(
            f"{where}: its MD5 is {md5.hexdigest()}, but the manifest says {data.md5}"
        )
    return path


@dataclass(frozen=True, slots=True)
class Columns:
    """Where a row holds each field a ``Listed`` needs (None: the report lacks it)."""

    key: int
    size: int
    etag: int
    bucket: int | None
    last_modified: int | None
    storage_class: int | None
    is_latest: int | None
    is_delete_marker: int | None

    @classmethod
    def of(cls, names: Sequence[str], where: str) -> Columns:
        normal = [column(name) for name in names]
        _require(normal, where)
        at = {field: n for n, field in reversed(list(enumerate(normal)))}  # the first wins
        return cls(
            at["key"],
            at["size"],
            at["etag"],
            at.get("bucket"),
            at.get("lastmodifieddate"),
            at.get("storageclass"),
            at.get("islatest"),
            at.get("isdeletemarker"),
        )

    def used(self) -> list[int]:
        """The row's positions these fields are at, in order."""
        return sorted({n for n in (getattr(self, f.name) for f in fields(self)) if n is not None})


class Rows:
    """One report's rows turned into the current objects under ``prefix``."""

    def __init__(self, manifest: Manifest, prefix: str, stamp: str) -> None:
        self.manifest = manifest
        self.prefix = prefix
        self.stamp = stamp

    def read(self, path: Path, data: DataFile) -> Iterator[Listed]:
        where = self.manifest.where(data.key)
        if self.manifest.file_format == "Parquet":
            return self._parquet(path, where)
        return self._csv(path, where)

    def _csv(self, path: Path, where: str) -> Iterator[Listed]:
        columns = Columns.of(self.manifest.schema, self.manifest.uri)
        width = len(self.manifest.schema)
        try:
            with gzip.open(path, "rt", encoding="utf-8", newline="") as text:
                rows = csv.reader(text, strict=True)
                for row in rows:
                    if len(row) != width:
                        raise ListingError(
                            f"{where} line {rows.line_num}: {len(row)} fields, "
                            f"but the fileSchema names {width}"
                        )
                    listed = self._row(row, columns, f"{where} line {rows.line_num}", True)
                    if listed is not None:
                        yield listed
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
            raise ListingError(f"{where}: not a gzip CSV file: {exc}") from exc

    def _parquet(self, path: Path, where: str) -> Iterator[Listed]:
        pa = parquet()
        try:
            file = pa.parquet.ParquetFile(path)
            names = list(file.schema_arrow.names)
            wanted = [names[n] for n in Columns.of(names, where).used()]
            columns = Columns.of(wanted, where)
            number = 0
            for batch in file.iter_batches(batch_size=PARQUET_BATCH, columns=wanted):
                values = [batch.column(n).to_pylist() for n in range(batch.num_columns)]
                for row in zip(*values, strict=True):
                    number += 1
                    listed = self._row(row, columns, f"{where} row {number}", False)
                    if listed is not None:
                        yield listed
        except (pa.ArrowException, OSError) as exc:
            raise ListingError(f"{where}: not a Parquet file: {exc}") from exc

    def _row(
        self, row: Sequence[Any], columns: Columns, where: str, encoded: bool
    ) -> Listed | None:
        try:
            return self._current(row, columns, encoded)
        except ValueError as exc:
            raise ListingError(f"{where}: {exc}") from exc

    def _current(self, row: Sequence[Any], columns: Columns, encoded: bool) -> Listed | None:
        source = self.manifest.source_bucket
        if columns.bucket is not None and row[columns.bucket] != source:
            raise ValueError(f"Bucket {row[columns.bucket]!r}, in a report of {source!r}")
        key = row[columns.key]
        if not isinstance(key, str) or not key:
            raise ValueError(f"Key {key!r} is not a key")
        if encoded:
            key = unquote_plus(key, errors="strict")
        if columns.is_latest is not None and not _flag(row[columns.is_latest], "IsLatest"):
            return None
        marker = columns.is_delete_marker
        if marker is not None and _flag(row[marker], "IsDeleteMarker"):
            return None
        if not key.startswith(self.prefix):
            return None
        etag = _text(row[columns.etag], "ETag")
        return Listed(
            key,
            _size(row[columns.size]),
            None if etag is None else etag.strip('"') or None,
            _time(_at(row, columns.last_modified)),
            _text(_at(row, columns.storage_class), "StorageClass"),
            self.stamp,
        )


def _at(row: Sequence[Any], index: int | None) -> Any:
    return None if index is None else row[index]


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"{name} {value!r} is neither true nor false")


def _size(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise ValueError(f"Size {value!r} is not a number of bytes")


def _text(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    raise ValueError(f"{name} {value!r} is not text")


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int) and not isinstance(value, bool):
        moment = _EPOCH + timedelta(milliseconds=value)  # a Parquet timestamp read as int
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"LastModifiedDate {value!r} is not an ISO-8601 time") from None
    else:
        raise ValueError(f"LastModifiedDate {value!r} is not a time")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
