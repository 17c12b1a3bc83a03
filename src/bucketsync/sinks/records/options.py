"""How a data file is read: its ``FormatOptions``, and its format told from its key.

The kind comes from the key's suffix unless a rule names it; gzip from a ``.gz`` suffix or the
object's Content-Encoding. Which kinds a read can resume at a byte offset is decided here too
(:func:`offsets_exact`), as it depends on nothing but the format.
"""

from __future__ import annotations

import codecs
import io
import posixpath
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal, Protocol

from bucketsync.errors import ConfigurationError, MalformedFileError
from bucketsync.sinks.records._streams import is_utf8

Kind = Literal["json", "jsonl", "csv"]
ColumnType = Literal["str", "int", "decimal", "bool", "json"]

KINDS = ("auto", "json", "jsonl", "csv")
COLUMN_TYPES = ("str", "int", "decimal", "bool", "json")
SUFFIXES: Mapping[str, Kind] = MappingProxyType(
    {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv"}
)
_KINDS: Mapping[str, Kind] = {"json": "json", "jsonl": "jsonl", "csv": "csv"}


class Readable(Protocol):
    """What is read from: a botocore ``StreamingBody``, an open file, ``io.BytesIO``."""

    def read(self, size: int, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class FormatOptions:
    """How to read a file. ``column_types`` is for CSV only: a column not named is a string."""

    kind: Literal["auto", "json", "jsonl", "csv"] = "auto"
    delimiter: str = ","
    quotechar: str = '"'
    column_types: Mapping[str, ColumnType] = field(default_factory=dict)
    encoding: str = "utf-8"
    # Input one row may span before the reader gives up (bytes for JSON, characters per line
    # otherwise): far above the 400 KB item limit, so only runaway input meets it.
    max_row_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigurationError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        for name, char in (("delimiter", self.delimiter), ("quotechar", self.quotechar)):
            if len(char) != 1 or char in "\r\n":
                raise ConfigurationError(f"{name} must be one character, not a newline: {char!r}")
        if self.delimiter == self.quotechar:
            raise ConfigurationError("delimiter and quotechar must differ")
        bad = sorted(name for name, kind in self.column_types.items() if kind not in COLUMN_TYPES)
        if bad:
            allowed = ", ".join(COLUMN_TYPES)
            raise ConfigurationError(f"column_types for {', '.join(bad)}: allowed are {allowed}")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ConfigurationError(f"unknown encoding {self.encoding!r}") from None
        try:  # hex, rot13, zlib...: codecs, but not from bytes to text
            io.TextIOWrapper(io.BytesIO(), self.encoding)
        except LookupError:
            raise ConfigurationError(f"{self.encoding!r} is not a text encoding") from None
        if self.max_row_bytes < 1:
            raise ConfigurationError("max_row_bytes must be positive")
        if self.max_row_bytes > sys.maxsize:  # readline and csv take a C ssize_t / long
            raise ConfigurationError(f"max_row_bytes must be at most {sys.maxsize:,}")
        object.__setattr__(self, "column_types", MappingProxyType(dict(self.column_types)))


DEFAULT_OPTIONS = FormatOptions()


def detect(
    key: str, content_encoding: str | None, options: FormatOptions = DEFAULT_OPTIONS
) -> tuple[Kind, bool]:
    """``(kind, gzip)`` for an object, from its key's suffix unless ``options.kind`` says."""
    name, coding = key.lower(), (content_encoding or "").lower()
    if other := {c.strip() for c in coding.split(",")} & {"br", "compress", "deflate", "zstd"}:
        raise MalformedFileError(f"Content-Encoding {', '.join(sorted(other))} is not supported")
    gzip = name.endswith(".gz") or "gzip" in coding
    explicit = _KINDS.get(options.kind)
    if explicit is not None:
        return explicit, gzip
    kind = SUFFIXES.get(_suffix(key))
    if kind is None:
        raise MalformedFileError(
            f"cannot tell the format of {key!r}: supported suffixes are "
            f"{', '.join(SUFFIXES)} (each optionally .gz), or set the kind"
        )
    return kind, gzip


def resolve(
    key: str, content_encoding: str | None, options: FormatOptions
) -> tuple[Kind, bool, FormatOptions]:
    """:func:`detect`, and the options as the file is read: a ``.tsv`` key means tabs unless
    told otherwise."""
    kind, gzip = detect(key, content_encoding, options)
    if kind == "csv" and _suffix(key) == ".tsv" and options.delimiter == ",":
        options = replace(options, delimiter="\t")
    return kind, gzip, options


def offsets_exact(kind: Kind, gzip: bool, options: FormatOptions = DEFAULT_OPTIONS) -> bool:
    """Whether rows of such a file tell the byte offset after them, so a read can resume there.

    Only uncompressed UTF-8 JSON Lines and CSV: a gzip offset counts inflated bytes, which a
    Range GET cannot seek to; ijson does not tell where an array element ends; and the bytes of
    a line are counted back from its text, which only UTF-8 makes cheap and exact.
    """
    return kind != "json" and not gzip and is_utf8(options.encoding)


def _suffix(key: str) -> str:
    name = key.lower()
    return posixpath.splitext(name[:-3] if name.endswith(".gz") else name)[1]
