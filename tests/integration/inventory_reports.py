"""S3 Inventory reports on the emulator, written where and as AWS would deliver them.

moto stores a bucket's inventory configurations but never delivers a report, so ``deliver``
does what S3 would: it sets the source bucket's configuration, reads it back, and writes the
report where that configuration sends it (S3 user guide, "Locating your inventory list")::

    <prefix>/<source>/<config-id>/YYYY-MM-DDTHH-MMZ/manifest.json     files, MD5s, schema
    <prefix>/<source>/<config-id>/YYYY-MM-DDTHH-MMZ/manifest.checksum manifest.json's MD5
    <prefix>/<source>/<config-id>/data/<uuid>.csv.gz                  gzip CSV, no header

CSV fields are all quoted and keys URL-encoded (``quote_plus``); Parquet files (where pyarrow
is importable) use AWS's snake_case column names and raw keys. Rows are spread round-robin,
in descending key order, over several files: sorted neither within nor across files, as AWS
promises no order. One gap: moto answers ``IncludedObjectVersions: All`` whatever was set,
so whether the report lists all versions is taken from the caller, not read back.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CONFIG_ID = "nightly-report"
DESTINATION_PREFIX = "inventories"
# AWS's order of the fields in a report, after Bucket and Key.
VERSION_FIELDS = ("VersionId", "IsLatest", "IsDeleteMarker")
OPTIONAL_FIELDS = ("Size", "LastModifiedDate", "ETag", "StorageClass")
PARQUET_TYPES = {
    "Bucket": "string",
    "Key": "string",
    "VersionId": "string",
    "IsLatest": "bool",
    "IsDeleteMarker": "bool",
    "Size": "int64",
    "LastModifiedDate": "timestamp",
    "ETag": "string",
    "StorageClass": "string",
}
PARQUET_NAMES = {
    "Bucket": "bucket",
    "Key": "key",
    "VersionId": "version_id",
    "IsLatest": "is_latest",
    "IsDeleteMarker": "is_delete_marker",
    "Size": "size",
    "LastModifiedDate": "last_modified_date",
    "ETag": "e_tag",
    "StorageClass": "storage_class",
}
MODIFIED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Obj:
    """An object as a report describes it."""

    size: int
    etag: str
    last_modified: datetime = MODIFIED
    storage_class: str = "STANDARD"


def described(body: bytes, last_modified: datetime = MODIFIED) -> Obj:
    """What S3 says of ``body`` put in one request: its length, its MD5 as the ETag."""
    return Obj(len(body), hashlib.md5(body).hexdigest(), last_modified)


@dataclass(frozen=True)
class Delivered:
    bucket: str  # the destination bucket
    manifest_key: str
    created_ms: int
    data_keys: tuple[str, ...]

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.manifest_key}"


def deliver(
    s3: S3Client,
    source: str,
    destination: str,
    objects: Mapping[str, bytes | Obj],
    *,
    files: int = 3,
    config_id: str = CONFIG_ID,
    all_versions: bool = False,
    deleted: Sequence[str] = (),
    twice: Sequence[str] = (),
    parquet: bool = False,
    declared_format: str | None = None,
    corrupt: str | None = None,
    created: datetime | None = None,
) -> Delivered:
    """Configure ``source``'s inventory ``config_id``, then write its report of ``objects``.

    ``all_versions``: each object also has a noncurrent version, and each of ``deleted`` a
    delete marker as its latest version. ``twice``: keys given two current rows.
    ``declared_format``: the manifest's fileFormat whatever the files are. ``corrupt``:
    "manifest" (manifest.checksum is wrong) or "data" (a data file's MD5 in the manifest is).
    """
    configuration: Any = {
        "Id": config_id,
        "IsEnabled": True,
        "Destination": {
            "S3BucketDestination": {
                "Bucket": f"arn:aws:s3:::{destination}",
                "Format": "Parquet" if parquet else "CSV",
                "Prefix": DESTINATION_PREFIX,
            }
        },
        "IncludedObjectVersions": "All" if all_versions else "Current",
        "OptionalFields": list(OPTIONAL_FIELDS),
        "Schedule": {"Frequency": "Daily"},
    }
    s3.put_bucket_inventory_configuration(
        Bucket=source, Id=config_id, InventoryConfiguration=configuration
    )
    config = s3.get_bucket_inventory_configuration(Bucket=source, Id=config_id)
    setting: Any = config["InventoryConfiguration"]
    target = setting["Destination"]["S3BucketDestination"]
    bucket = str(target["Bucket"]).removeprefix("arn:aws:s3:::")
    prefix = str(target.get("Prefix", ""))
    base = "/".join(part for part in (prefix, source, setting["Id"]) if part)
    optional = setting.get("OptionalFields", [])
    if isinstance(optional, dict):  # moto keeps the XML's shape: {"Field": [...]}
        optional = optional.get("Field", [])
    chosen = {optional} if isinstance(optional, str) else set(optional)
    fields = ["Bucket", "Key"]
    fields += list(VERSION_FIELDS) if all_versions else []
    fields += [name for name in OPTIONAL_FIELDS if name in chosen]
    file_format = str(target["Format"])

    rows = _rows(source, objects, all_versions, deleted, twice)
    rows.sort(key=lambda row: row["Key"], reverse=True)
    count = max(1, min(files, len(rows)))
    extension = "parquet" if file_format == "Parquet" else "csv.gz"
    written: list[tuple[str, bytes]] = []
    for n in range(count):
        chunk = rows[n::count]
        body = _parquet(chunk, fields) if file_format == "Parquet" else _csv(chunk, fields)
        key = f"{base}/data/{uuid.uuid4()}.{extension}"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        written.append((key, body))

    moment = created or datetime.now(UTC)
    created_ms = int(moment.timestamp() * 1000)
    entries = [{"key": key, "size": len(body), "MD5checksum": _md5(body)} for key, body in written]
    if corrupt == "data":
        entries[-1]["MD5checksum"] = _md5(b"not " + written[-1][1])
    manifest = {
        "sourceBucket": source,
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "version": "2016-11-30",
        "creationTimestamp": str(created_ms),
        "fileFormat": declared_format or file_format,
        "fileSchema": _parquet_schema(fields) if file_format == "Parquet" else ", ".join(fields),
        "files": entries,
    }
    raw = json.dumps(manifest, indent=2).encode()
    checksum = _md5(raw + b" " if corrupt == "manifest" else raw)
    folder = f"{base}/{moment:%Y-%m-%dT%H-%MZ}"
    s3.put_object(Bucket=bucket, Key=f"{folder}/manifest.json", Body=raw)
    s3.put_object(Bucket=bucket, Key=f"{folder}/manifest.checksum", Body=f"{checksum}\n".encode())
    return Delivered(bucket, f"{folder}/manifest.json", created_ms, tuple(k for k, _ in written))


def _md5(body: bytes) -> str:
    return hashlib.md5(body).hexdigest()


def _rows(
    source: str,
    objects: Mapping[str, bytes | Obj],
    all_versions: bool,
    deleted: Sequence[str],
    twice: Sequence[str],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def row(key: str, obj: Obj | None, latest: bool) -> None:
        rows.append(
            {
                "Bucket": source,
                "Key": key,
                "VersionId": uuid.uuid4().hex,
                "IsLatest": latest,
                "IsDeleteMarker": obj is None,
                "Size": None if obj is None else obj.size,
                "LastModifiedDate": MODIFIED if obj is None else obj.last_modified,
                "ETag": None if obj is None else obj.etag,
                "StorageClass": None if obj is None else obj.storage_class,
            }
        )

    older = Obj(1, _md5(b"an older version"), MODIFIED - timedelta(days=1))
    for key, value in objects.items():
        obj = value if isinstance(value, Obj) else described(value)
        row(key, obj, True)
        if all_versions:
            row(key, older, False)
    for key in twice:
        row(key, older, True)
    for key in deleted if all_versions else ():
        row(key, None, True)
        row(key, older, False)
    return rows


def _text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"
    return quote_plus(value) if name == "Key" else str(value)


def _csv(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for row in rows:
        writer.writerow([_text(name, row[name]) for name in fields])
    return gzip.compress(text.getvalue().encode())


def _parquet(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> bytes:
    import pyarrow as pa  # type: ignore[import-not-found,import-untyped,unused-ignore]  # noqa: PLC0415
    import pyarrow.parquet as pq  # type: ignore[import-not-found,import-untyped,unused-ignore]  # noqa: PLC0415

    types = {
        "string": pa.string(),
        "bool": pa.bool_(),
        "int64": pa.int64(),
        "timestamp": pa.timestamp("ms", tz="UTC"),
    }
    table = pa.table(
        {
            PARQUET_NAMES[name]: pa.array(
                [row[name] for row in rows], type=types[PARQUET_TYPES[name]]
            )
            for name in fields
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def _parquet_schema(fields: Sequence[str]) -> str:
    kinds = {
        "string": "binary {} (STRING)",
        "bool": "boolean {}",
        "int64": "int64 {}",
        "timestamp": "int64 {} (TIMESTAMP(MILLIS,true))",
    }
    columns = [
        ("required " if name in ("Bucket", "Key") else "optional ")
        + kinds[PARQUET_TYPES[name]].format(PARQUET_NAMES[name])
        for name in fields
    ]
    return "message s3.inventory { " + "; ".join(columns) + "; }"
