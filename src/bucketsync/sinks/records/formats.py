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
"""

from __future__ import annotations

import codecs
import csv
import io
import posixpath
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, DecimalException
from itertools import dropwhile
from types import MappingProxyType
from typing import Any, Literal, Protocol

from bucketsync.errors import ConfigurationError, MalformedFileError
from bucketsync.sinks.records._jsonguard import json_reason, json_type, json_values, loads
from bucketsync.sinks.records._streams import Lines, Read, gunzipped, is_utf8, text

Kind = Literal["json", "jsonl", "csv"]
ColumnType = Literal["str", "int", "decimal", "bool", "json"]

KINDS = ("auto", "json", "jsonl", "csv")
COLUMN_TYPES = ("str", "int", "decimal", "bool", "json")
SUFFIXES: Mapping[str, Kind] = MappingProxyType(
    {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv"}
)
# Deeper than any row DynamoDB can store (32 levels), shallow enough for ijson's memory.
MAX_JSON_DEPTH = 512
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


@dataclass(frozen=True, slots=True)
class Start:
    """Where a read begins: row ``index``, on physical line ``line``, at byte ``offset``."""

    index: int
    line: int
    offset: int


BEGINNING = Start(0, 1, 0)


@dataclass(frozen=True, slots=True)
class Row:
    """A parsed row. ``line`` is 1-based where the row starts; None for JSON array elements.

    ``after`` is where a read resuming after this row starts, where offsets are exact (else
    None). It is not part of equality: the same row read from elsewhere is the same row.
    """

    index: int
    line: int | None
    value: dict[str, Any]
    after: Start | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class RowError:
    """A row position that holds no usable row, and why; ``after`` as for :class:`Row`."""

    index: int
    line: int | None
    reason: str
    after: Start | None = field(default=None, compare=False, repr=False)


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


def offsets_exact(kind: Kind, gzip: bool, options: FormatOptions = DEFAULT_OPTIONS) -> bool:
    """Whether rows of such a file tell the byte offset after them, so a read can resume there.

    Only uncompressed UTF-8 JSON Lines and CSV: a gzip offset counts inflated bytes, which a
    Range GET cannot seek to; ijson does not tell where an array element ends; and the bytes of
    a line are counted back from its text, which only UTF-8 makes cheap and exact.
    """
    return kind != "json" and not gzip and is_utf8(options.encoding)


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
    kind, gzip, options = _resolve(key, content_encoding, options)
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
    at = _From(origin, offsets_exact(kind, gzip, options), header)
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
    kind, gzip, options = _resolve(key, content_encoding, options)
    if kind != "csv":
        raise ConfigurationError(f"a {kind} file has no header")
    lines, reader = _csv_reader(gunzipped(body.read) if gzip else body.read, options, BEGINNING)
    try:
        return _csv_header(reader, lines, options)
    except (csv.Error, UnicodeError) as exc:
        raise MalformedFileError(f"not CSV: {exc}", line=lines.number) from exc


@dataclass(frozen=True, slots=True)
class _From:
    """Where a reader starts, whether it counts bytes, and the CSV header it is given."""

    start: Start
    exact: bool
    header: Sequence[str] | None


def _resolve(
    key: str, content_encoding: str | None, options: FormatOptions
) -> tuple[Kind, bool, FormatOptions]:
    kind, gzip = detect(key, content_encoding, options)
    if kind == "csv" and _suffix(key) == ".tsv" and options.delimiter == ",":
        options = replace(options, delimiter="\t")
    return kind, gzip, options


def _suffix(key: str) -> str:
    name = key.lower()
    return posixpath.splitext(name[:-3] if name.endswith(".gz") else name)[1]


_UNDECODED = re.compile("[\udc80-\udcff]")


# --- JSON ------------------------------------------------------------------------------------


def _json_rows(read: Read, options: FormatOptions, at: _From) -> Iterator[Row | RowError]:
    """A top-level array (one row per element) or one object (one row)."""
    elements = json_values(read, options.encoding, options.max_row_bytes, MAX_JSON_DEPTH)
    for index, (line, value) in enumerate(elements):
        yield _row(index, line, value)


def _row(index: int, line: int | None, value: Any, after: Start | None = None) -> Row | RowError:
    if isinstance(value, dict):
        return Row(index, line, value, after)
    return RowError(index, line, f"not a JSON object: {json_type(value)}", after)


# --- JSON Lines ------------------------------------------------------------------------------


def _jsonl_rows(read: Read, options: FormatOptions, at: _From) -> Iterator[Row | RowError]:
    """One object per line; blank lines are not rows. A bad line is a row error."""
    origin, exact, limit = at.start, at.exact, options.max_row_bytes
    # "\n" alone ends a line; "\r\n" is JSON space.
    decoded, bom = text(read, options.encoding, "\n", at_start=origin.offset == 0)
    offset = origin.offset + bom if exact else None
    lines = Lines(decoded, limit, fail=False, line=origin.line, offset=offset)
    index = origin.index
    try:
        for line in lines:
            if line and not line.strip(" \t\r\n"):
                continue
            number = lines.number
            after = Start(index + 1, number + 1, lines.offset) if exact else None
            if not line:
                yield RowError(index, number, f"line is longer than {limit:,} characters", after)
            elif _UNDECODED.search(line):
                yield RowError(index, number, f"not valid {options.encoding} text", after)
            else:
                try:
                    yield _row(index, number, loads(line), after)
                except (ValueError, RecursionError) as exc:
                    yield RowError(index, number, json_reason(exc), after)
            index += 1
    except UnicodeError as exc:  # what surrogateescape cannot absorb (UTF-16 without a BOM)
        raise MalformedFileError(f"not {options.encoding} text: {exc}", line=lines.number) from exc


# --- CSV -------------------------------------------------------------------------------------

_Typed = tuple[int, str, str]  # column number, name, type: the columns not plain text
_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _cell(kind: str, cell: str) -> Any:
    text = cell.strip()
    if kind == "int" and _INT.fullmatch(text):
        return int(text)
    if kind == "decimal" and _DECIMAL.fullmatch(text):
        try:
            return Decimal(text)
        except DecimalException:  # an exponent past what Decimal holds (about 10**18)
            raise ValueError(f"a value of {len(cell)} characters is out of range") from None
    if kind == "bool" and text.lower() in _BOOLS:
        return _BOOLS[text.lower()]
    if kind == "json":
        try:
            return loads(cell)
        except (ValueError, RecursionError) as exc:
            raise ValueError(json_reason(exc)) from exc
    # The cell's shape, not its text: row errors are logged, and a file's contents are not
    # ours to put in a log (the line and column say where to look).
    expected = {"int": "an integer", "decimal": "a decimal number", "bool": "true or false"}
    raise ValueError(f"a value of {len(cell)} characters is not {expected.get(kind, kind)}")


def _csv_reader(
    read: Read, options: FormatOptions, at: Start, *, exact: bool = False
) -> tuple[Lines, Any]:
    """The physical lines (which tell the position after each record) and a reader over them."""
    # csv's field limit is process-wide; raising it (never lowering) keeps long cells readable.
    if csv.field_size_limit() < options.max_row_bytes:
        csv.field_size_limit(options.max_row_bytes)
    # newline="": csv itself splits "\r\n", "\r" and "\n", and the text stays byte for byte.
    decoded, bom = text(read, options.encoding, "", at_start=at.offset == 0)
    offset = at.offset + bom if exact else None
    lines = Lines(
        decoded, options.max_row_bytes, fail=True, cr_ends=True, line=at.line, offset=offset
    )
    return lines, csv.reader(lines, delimiter=options.delimiter, quotechar=options.quotechar)


def _csv_header(reader: Iterator[list[str]], lines: Lines, options: FormatOptions) -> list[str]:
    header = next((record for record in reader if record), None)
    if header is None:
        raise MalformedFileError("empty file: a CSV file starts with a header")
    _check_header(header, lines.number, options)
    return header


def _csv_rows(read: Read, options: FormatOptions, at: _From) -> Iterator[Row | RowError]:
    """A header record, then one row per record; blank lines are not rows.

    ``csv.reader`` pulls a line only when its record needs one, so once a record is parsed
    ``lines`` stands right after its last line, however many lines its quoted cells spanned.
    """
    origin, exact = at.start, at.exact
    lines, reader = _csv_reader(read, options, origin, exact=exact)
    try:
        if at.header is None:
            header = _csv_header(reader, lines, options)
        else:
            header = list(at.header)
            _check_header(header, None, options)
        typed: list[_Typed] = [
            (column, name, kind)
            for column, name in enumerate(header)
            if (kind := options.column_types.get(name, "str")) != "str"
        ]
        index, start = origin.index, lines.number + 1
        for record in reader:
            line, start = start, lines.number + 1
            if record:
                after = Start(index + 1, start, lines.offset) if exact else None
                yield _csv_row(
                    index, line, header, typed, record, encoding=options.encoding, after=after
                )
                index += 1
    except (csv.Error, UnicodeError) as exc:
        raise MalformedFileError(f"not CSV: {exc}", line=lines.number) from exc


def _check_header(header: list[str], line: int | None, options: FormatOptions) -> None:
    problem = ""
    if _UNDECODED.search("".join(header)):
        problem = f"the header is not valid {options.encoding} text"
    elif "" in header:
        problem = f"header column {header.index('') + 1} has no name"
    elif duplicates := sorted({name for name in header if header.count(name) > 1}):
        problem = f"duplicate column names in the header: {', '.join(map(repr, duplicates))}"
    elif missing := sorted(set(options.column_types) - set(header)):
        problem = f"column_types names columns the header lacks: {', '.join(map(repr, missing))}"
    if problem:
        raise MalformedFileError(problem, line=line)


def _csv_row(
    index: int,
    line: int,
    header: list[str],
    typed: list[_Typed],
    record: list[str],
    *,
    encoding: str,
    after: Start | None,
) -> Row | RowError:
    if len(record) != len(header):
        return RowError(index, line, f"expected {len(header)} columns, got {len(record)}", after)
    if _UNDECODED.search("".join(record)):
        return RowError(index, line, f"not valid {encoding} text", after)
    value = dict(zip(header, record, strict=True))
    for column, name, kind in typed:
        cell = record[column]
        if not cell.strip():  # an empty typed cell is no value: the attribute is left out
            del value[name]
            continue
        try:
            value[name] = _cell(kind, cell)
        except ValueError as exc:
            return RowError(index, line, f"column {name!r}: {exc}", after)
    return Row(index, line, value, after)


_READERS: Mapping[str, Callable[[Read, FormatOptions, _From], Iterator[Row | RowError]]] = {
    "json": _json_rows,
    "jsonl": _jsonl_rows,
    "csv": _csv_rows,
}
