"""Where the records sink's items live: the keys of a file's rows and of its manifest.

    pk = FILE#<bucket>/<key>   sk = ROW#<index, 12 digits>   one row of the file
    pk = FILE#<bucket>/<key>   sk = MANIFEST[#<rows table>]  its manifest (``manifest``)

Rows under their own key (a rule's ``key``) are the user's layout, not this one. The
manifests index (``records.index``) lists a bucket's manifests in key order: its partition
is one per manifest store and bucket, its sort key the object key.
"""

from __future__ import annotations

from bucketsync.sinks.sortkey import bounded

MANIFEST_SK = "MANIFEST"
ROW_PREFIX = "ROW#"  # rows of a file sort under its partition after this prefix


def file_partition(bucket: str, key: str) -> str:
    return f"FILE#{bucket}/{key}"


def index_partition(sk: str, bucket: str) -> str:
    """The manifests index's partition: one per manifest store (its sort key) and bucket."""
    return f"{sk}/{bucket}"


def index_sort_key(key: str) -> str:
    return bounded("", key)
