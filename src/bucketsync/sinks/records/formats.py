"""Rows out of JSON, JSON Lines and CSV objects, read as a stream straight from the S3 body.

No file is ever held whole: gzip is inflated a chunk at a time, JSON is walked by ijson, JSON
Lines and CSV are read a line at a time. Every row position, good or bad, gets an ``index`` from
0 in file order, so a checkpoint stays valid when the file is read again; ``skip`` resumes by
re-reading and re-parsing the rows before it. Where byte offsets are exact (uncompressed UTF-8
JSON Lines and CSV: :func:`offsets_exact`), each row also tells where a read resuming after it
starts (``after``, a :class:`Start`), and ``start`` reads a body that begins there (a Range
GET) with the same indexes and line numbers as a read of the whole file.

A bad row is a value (:class:`RowError`) next to the good ones. A file that cannot be read as its
format raises :class:`MalformedFileError`, possibly after some rows were yielded: those stand.

This module is the entry (and the names it exports, the package's reading API); the work is in
``options`` (options, detection), ``parsed`` (what is yielded), and one module per format:
``json_rows``, ``jsonl_rows``, ``csv_rows``, over the private ``_streams`` and ``_jsonguard``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import dropwhile

from bucketsync.errors import ConfigurationError
from bucketsync.sinks.records._streams import Read, gunzipped
from bucketsync.sinks.records.csv_rows import csv_rows, read_csv_header
from bucketsync.sinks.records.json_rows import MAX_JSON_DEPTH, json_rows
from bucketsync.sinks.records.jsonl_rows import jsonl_rows
from bucketsync.sinks.records.options import (
    COLUMN_TYPES,
    DEFAULT_OPTIONS,
    KINDS,
    SUFFIXES,
    ColumnType,
    FormatOptions,
    Kind,
    Readable,
    detect,
    offsets_exact,
    resolve,
)
from bucketsync.sinks.records.parsed import BEGINNING, From, Row, RowError, Start

__all__ = [
    "BEGINNING",
    "COLUMN_TYPES",
    "DEFAULT_OPTIONS",
    "KINDS",
    "MAX_JSON_DEPTH",
    "SUFFIXES",
    "ColumnType",
    "FormatOptions",
    "Kind",
    "Readable",
    "Row",
    "RowError",
    "Start",
    "detect",
    "offsets_exact",
    "read_header",
    "read_object",
    "read_rows",
]


def read_object(
    body: Readable,
    *,
    key: str,
    content_encoding: str | None = None,
    options: FormatOptions = DEFAULT_OPTIONS,
    skip: int = 0,
    start: Start | None = None,
    header: Sequence[str] | None = None,
) -> Iterator[Row | RowError]:
    """:func:`detect`, then :func:`read_rows`; a ``.tsv`` key means tabs unless told otherwise."""
    kind, gzip, options = resolve(key, content_encoding, options)
    return read_rows(
        body, kind=kind, gzip=gzip, options=options, skip=skip, start=start, header=header
    )


def read_rows(
    body: Readable,
    *,
    kind: Kind,
    gzip: bool,
    options: FormatOptions = DEFAULT_OPTIONS,
    skip: int = 0,
    start: Start | None = None,
    header: Sequence[str] | None = None,
) -> Iterator[Row | RowError]:
    """Rows and row errors in file order, from index ``skip`` on (the ones before are re-read).

    With ``start`` (a row's ``after``), ``body`` holds the file from ``start.offset`` on, and
    rows are numbered on from there; CSV then needs the file's ``header`` (:func:`read_header`).
    """
    if kind not in _READERS:
        raise ConfigurationError(f"kind {kind!r} is not one of {', '.join(_READERS)}")
    origin = start or BEGINNING
    if origin != BEGINNING:
        if origin.offset < 1 or origin.index < 0 or origin.line < 1:
            raise ConfigurationError(f"{origin} is not a place a read can start at")
        if not offsets_exact(kind, gzip, options):
            raise ConfigurationError(f"{kind} read as this one cannot start at a byte offset")
        if kind == "csv" and header is None:
            raise ConfigurationError("CSV read from a byte offset needs the file's header")
    if header is not None and (kind != "csv" or origin == BEGINNING):
        raise ConfigurationError("a header is given only to CSV read from a byte offset")
    read = gunzipped(body.read) if gzip else body.read
    at = From(origin, offsets_exact(kind, gzip, options), header)
    return dropwhile(lambda row: row.index < skip, _READERS[kind](read, options, at))


def read_header(
    body: Readable,
    *,
    key: str,
    content_encoding: str | None = None,
    options: FormatOptions = DEFAULT_OPTIONS,
) -> list[str]:
    """The column names of a CSV object, as a read of the whole file takes them (and checks
    them): what a read that starts past the header needs."""
    kind, gzip, options = resolve(key, content_encoding, options)
    if kind != "csv":
        raise ConfigurationError(f"a {kind} file has no header")
    return read_csv_header(gunzipped(body.read) if gzip else body.read, options)


_READERS: Mapping[str, Callable[[Read, FormatOptions, From], Iterator[Row | RowError]]] = {
    "json": json_rows,
    "jsonl": jsonl_rows,
    "csv": csv_rows,
}
