"""Where a file's rows go (one routing rule, resolved), and the item each row becomes there.

The names bucketsync adds to a row's item (its keys and ``_gen``) are reserved: a row that
carries one of its own is a bad row, never an overwrite of ours. ``loader`` writes the items,
``sweep`` removes them, ``reader`` hides the reserved names again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bucketsync.errors import ConfigurationError, RowValueError
from bucketsync.sinks.records.formats import FormatOptions, Row
from bucketsync.sinks.records.keyed import FILE_ATTRIBUTE
from bucketsync.sinks.records.layout import ROW_PREFIX, file_partition
from bucketsync.sinks.records.manifest import ManifestStore
from bucketsync.sinks.records.values import MAX_ITEM_BYTES, convert, item_size

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RESERVED = frozenset({"pk", "sk", "_gen"})
KEYED_RESERVED = frozenset({FILE_ATTRIBUTE, "_gen"})


@dataclass(frozen=True, slots=True)
class Target:
    """Where a file's rows go and how to read it (one routing rule, resolved).

    With ``key_fields``, rows are upserted under their own key into a shared table; a row whose
    key another file already loaded is a conflict (a bad row), never an overwrite. Their
    manifests then live in ``manifest_table`` (the catalog's), as the rows' table has the
    user's key schema.
    """

    table: str
    options: FormatOptions = field(default_factory=FormatOptions)
    key_fields: tuple[str, ...] = ()
    manifest_table: str | None = None

    def manifests(self, client: DynamoDBClient) -> ManifestStore:
        if not self.key_fields:
            return ManifestStore(client, self.table)
        if not self.manifest_table:
            raise ConfigurationError(f"rows keyed by {self.key_fields} need a manifest table")
        return ManifestStore(client, self.manifest_table, sk=f"MANIFEST#{self.table}")


def row_item(row: Row, target: Target, bucket: str, key: str, gen: int) -> dict[str, Any]:
    """The item ``row`` of generation ``gen`` is written as; RowValueError if it cannot be."""
    item, size = convert(row.value, key_attributes=target.key_fields)
    if size > MAX_ITEM_BYTES:
        raise RowValueError(f"item is {size:,} bytes; DynamoDB's limit is 400 KB")
    reserved = KEYED_RESERVED if target.key_fields else RESERVED
    clash = reserved.intersection(item)
    if clash:
        raise RowValueError(f"field {sorted(clash)[0]!r} is reserved by bucketsync")
    if target.key_fields:
        item[FILE_ATTRIBUTE] = f"{bucket}/{key}"
    else:
        item["pk"] = file_partition(bucket, key)
        item["sk"] = f"{ROW_PREFIX}{row.index:012d}"
    item["_gen"] = gen
    # The reserved names are the ones just added: the limit is on the whole item.
    size += item_size({name: item[name] for name in reserved})
    if size > MAX_ITEM_BYTES:
        raise RowValueError(f"item is {size:,} bytes with its keys; DynamoDB's limit is 400 KB")
    return item
