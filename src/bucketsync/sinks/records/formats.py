"""Rows out of JSON, JSON Lines and CSV objects, read as a stream straight from the S3 body.

No file is ever held whole: gzip is inflated a chunk at a time, JSON is walked by ijson, JSON
Lines and CSV are read a line at a time. Every row position, good or bad, gets an ``index`` from
0 in file order, so a checkpoint stays valid when the file is read again; ``skip`` resumes by
re-reading and re-parsing the rows before it.

A bad row is a value (:class:`RowError`) next to the good ones. A file that cannot be read as its
format raises :class:`MalformedFileError`, possibly after some rows were yielded: those stand.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import posixpath
import re
import sys
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import accumulate, dropwhile
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol

import ijson  # type: ignore[import-untyped]

from bucketsync.errors import ConfigurationError, MalformedFileError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

Kind = Literal["json", "jsonl", "csv"]
ColumnType = Literal["str", "int", "decimal", "bool", "json"]
Read = Callable[[int], bytes]

KINDS = ("auto", "json", "jsonl", "csv")
COLUMN_TYPES = ("str", "int", "decimal", "bool", "json")
SUFFIXES: Mapping[str, Kind] = MappingProxyType(
    {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv"}
)
# Deeper than any row DynamoDB can store (32 levels), shallow enough for ijson's memory.
MAX_JSON_DEPTH = 512
_CHUNK = 64 * 1024
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
        if self.max_row_bytes < 1:
            raise ConfigurationError("max_row_bytes must be positive")
        object.__setattr__(self, "column_types", MappingProxyType(dict(self.column_types)))


DEFAULT_OPTIONS = FormatOptions()


@dataclass(frozen=True, slots=True)
class Row:
    """A parsed row. ``line`` is 1-based where the row starts; None for JSON array elements."""

    index: int
    line: int | None
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RowError:
    """A row position that holds no usable row, and why."""

    index: int
    line: int | None
    reason: str


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


def read_object(
    body: Readable,
    *,
    key: str,
    content_encoding: str | None = None,
    options: FormatOptions = DEFAULT_OPTIONS,
    skip: int = 0,
) -> Iterator[Row | RowError]:
    """:func:`detect`, then :func:`read_rows`; a ``.tsv`` key means tabs unless told otherwise."""
    kind, gzip = detect(key, content_encoding, options)
    if kind == "csv" and _suffix(key) == ".tsv" and options.delimiter == ",":
        options = replace(options, delimiter="\t")
    return read_rows(body, kind=kind, gzip=gzip, options=options, skip=skip)


def read_rows(
    body: Readable,
    *,
    kind: Kind,
    gzip: bool,
    options: FormatOptions = DEFAULT_OPTIONS,
    skip: int = 0,
) -> Iterator[Row | RowError]:
    """Rows and row errors in file order, from index ``skip`` on (the ones before are re-read)."""
    if kind not in _READERS:
        raise ConfigurationError(f"kind {kind!r} is not one of {', '.join(_READERS)}")
    read = _gunzipped(body) if gzip else body.read
    return dropwhile(lambda row: row.index < skip, _READERS[kind](read, options))


# --- streams ---------------------------------------------------------------------------------


def _suffix(key: str) -> str:
    name = key.lower()
    return posixpath.splitext(name[:-3] if name.endswith(".gz") else name)[1]


class _Raw(io.RawIOBase):
    """Any ``read(n)`` callable as a raw stream, so buffering and decoding come from ``io``."""

    def __init__(self, read: Read) -> None:
        super().__init__()
        self._read = read
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        out = memoryview(buffer).cast("B")
        data = self._pending or self._read(len(out))
        size = min(len(data), len(out))
        out[:size] = data[:size]
        self._pending = data[size:]  # a body may answer with more than it was asked for
        return size


def _gunzipped(body: Readable) -> Read:
    """Inflated reads (gzip members one after another); only inflating errors are translated,
    so a failure of the body itself (a dropped connection) passes unchanged."""
    inflated = gzip.GzipFile(fileobj=io.BufferedReader(_Raw(body.read), _CHUNK), mode="rb")

    def read(size: int) -> bytes:
        try:
            return inflated.read(size)  # at most ``size`` bytes: a gzip bomb inflates lazily
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise MalformedFileError(f"not valid gzip data: {exc}") from exc

    return read


def _text(read: Read, options: FormatOptions, newline: str) -> io.TextIOWrapper:
    # Undecodable bytes become lone surrogates, so one bad line is a row error, not a crash.
    encoding = "utf-8-sig" if codecs.lookup(options.encoding).name == "utf-8" else options.encoding
    buffered = io.BufferedReader(_Raw(read), _CHUNK)
    return io.TextIOWrapper(buffered, encoding, errors="surrogateescape", newline=newline)


def _lines(text: io.TextIOWrapper, limit: int, *, fail: bool) -> Iterator[str]:
    """Physical lines. One longer than ``limit`` characters is a malformed file if ``fail``,
    else it is skipped to its end and stands as "" (which no real line can be)."""
    number = 0
    while line := text.readline(limit):
        number += 1
        if len(line) < limit or line[-1] in "\r\n":
            yield line
            continue
        if fail:
            raise MalformedFileError(f"line is longer than {limit:,} characters", line=number)
        while (rest := text.readline(limit)) and rest[-1] not in "\r\n":
            pass
        yield ""


_UNDECODED = re.compile("[\udc80-\udcff]")


# --- JSON ------------------------------------------------------------------------------------

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)  # to the end if unclosed
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


class _JsonGuard:
    """Stops, at C speed, input that would hurt ijson 3.6's yajl2_c backend before it sees it.

    It keeps a prefix string per open level (memory grows with the square of the depth), crashes
    the process on an integer longer than Python's int-to-str limit, and builds one element
    whole. So: nesting over MAX_JSON_DEPTH, such integers, and ``limit`` bytes without a row
    are a malformed file. Strings are blanked out first, carrying state across chunks.
    """

    def __init__(self, read: Read, limit: int) -> None:
        self._read, self._limit = read, limit
        self._since_row = self._depth = self._digits = 0
        self._in_string = self._escaped = False
        digits = sys.get_int_max_str_digits()
        self._long_int = re.compile(rb"[0-9]{%d,}" % (digits + 1)) if digits else None

    def row_done(self) -> None:
        self._since_row = 0

    def __call__(self, size: int) -> bytes:
        if self._since_row > self._limit:  # the bytes read so far without a row ending
            raise MalformedFileError(f"a JSON row is larger than {self._limit:,} bytes")
        data = self._read(size)
        self._since_row += len(data)
        resume = (b'"\\' if self._escaped else b'"') if self._in_string else b""
        # The sentinel ends up outside any string: "\x01 " if the chunk ends outside one.
        text = _STRING.sub(b" ", resume + data + b'\x01"\x02')
        self._in_string = text.endswith(b"\x02")
        if self._in_string:
            tail = resume + data
            self._escaped = (len(tail) - len(tail.rstrip(b"\\"))) % 2 == 1
        text = b"0" * self._digits + text[:-2]
        if self._long_int and self._long_int.search(text):
            raise MalformedFileError(f"a number has over {sys.get_int_max_str_digits()} digits")
        self._digits = 0 if self._in_string else len(text) - len(text.rstrip(b"0123456789"))
        if brackets := text.translate(None, _NOT_BRACKETS):
            levels = list(accumulate(map(_STEP.__getitem__, brackets), initial=self._depth))
            if max(levels) > MAX_JSON_DEPTH:
                raise MalformedFileError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            self._depth = levels[-1]
        return data


def _first_byte(stream: io.BufferedReader[Any]) -> tuple[bytes, int]:
    """Consume a BOM and whitespace: the next byte (unread, b"" at the end) and its line."""
    if stream.peek(3)[:3] == codecs.BOM_UTF8:
        stream.read(3)
    line = 1
    while chunk := stream.peek(_CHUNK):
        rest = chunk.lstrip(b" \t\r\n")
        line += chunk[: len(chunk) - len(rest)].count(b"\n")
        stream.read(len(chunk) - len(rest))
        if rest:
            return rest[:1], line
    return b"", line


class _AtHand:
    """The stream as ijson should read it: what is at hand, not a full buffer, so rows come
    out as soon as they arrive and the guard sees how far each one reaches."""

    def __init__(self, stream: io.BufferedReader[Any]) -> None:
        self.read, self.readinto = stream.read1, stream.readinto1


def _json_rows(read: Read, options: FormatOptions) -> Iterator[Row | RowError]:
    """A top-level array (one row per element) or one object (one row)."""
    if codecs.lookup(options.encoding).name not in ("utf-8", "utf-8-sig"):  # ijson: UTF-8 only
        text = io.TextIOWrapper(io.BufferedReader(_Raw(read), _CHUNK), options.encoding)

        def read(size: int) -> bytes:
            return text.read(size).encode()

    guard = _JsonGuard(read, options.max_row_bytes)
    stream = io.BufferedReader(_Raw(guard), _CHUNK)
    index, single = 0, False
    try:
        first, line = _first_byte(stream)
        if not first:
            raise MalformedFileError("empty file: expected a JSON array or object", line=line)
        if first not in (b"[", b"{"):
            found = repr(first.decode("latin-1"))
            raise MalformedFileError(f"not a JSON array or object: found {found}", line=line)
        single = first == b"{"
        # ijson does not tell where an element starts, so array rows have no line.
        for value in ijson.items(_AtHand(stream), "" if single else "item", use_float=False):
            guard.row_done()
            yield _row(index, line if single else None, value)
            index += 1
    except (ijson.JSONError, ValueError) as exc:  # ValueError covers UnicodeDecodeError
        where = f"after {index:,} row{'s' * (index > 1)}" if index else "before the first row"
        reason = f"invalid JSON {where}: {_first_line(exc)}"
        if single and "trailing garbage" in reason:
            reason += " (several values in one file are JSON Lines: use .jsonl or kind 'jsonl')"
        raise MalformedFileError(reason) from exc


def _first_line(exc: Exception) -> str:
    message = exc.args[0] if exc.args else exc
    if isinstance(message, bytes):  # yajl2_c reports some errors as bytes
        message = message.decode("utf-8", "replace")
    return str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__


def _row(index: int, line: int | None, value: Any) -> Row | RowError:
    if isinstance(value, dict):
        return Row(index, line, value)
    return RowError(index, line, f"not a JSON object: {_json_type(value)}")


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    names = {dict: "object", list: "array", str: "string", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number DynamoDB can store")


# One decoder: json.loads with options would build a new one per row.
_loads = json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constant).decode


def _json_reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} (col {exc.colno})"
    if isinstance(exc, RecursionError):
        return "not valid JSON: nested too deeply"
    return f"not valid JSON: {exc}"


# --- JSON Lines ------------------------------------------------------------------------------


def _jsonl_rows(read: Read, options: FormatOptions) -> Iterator[Row | RowError]:
    """One object per line; blank lines are not rows. A bad line is a row error."""
    text = _text(read, options, newline="\n")  # "\n" alone ends a line; "\r\n" is JSON space
    limit, index, number = options.max_row_bytes, 0, 0
    try:
        for number, line in enumerate(_lines(text, limit, fail=False), start=1):
            if line and not line.strip(" \t\r\n"):
                continue
            if not line:
                yield RowError(index, number, f"line is longer than {limit:,} characters")
            elif _UNDECODED.search(line):
                yield RowError(index, number, f"not valid {options.encoding} text")
            else:
                try:
                    yield _row(index, number, _loads(line))
                except (ValueError, RecursionError) as exc:
                    yield RowError(index, number, _json_reason(exc))
            index += 1
    except UnicodeError as exc:  # what surrogateescape cannot absorb (UTF-16 without a BOM)
        raise MalformedFileError(f"not {options.encoding} text: {exc}", line=number) from exc


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
        return Decimal(text)
    if kind == "bool" and text.lower() in _BOOLS:
        return _BOOLS[text.lower()]
    if kind == "json":
        try:
            return _loads(cell)
        except (ValueError, RecursionError) as exc:
            raise ValueError(_json_reason(exc)) from exc
    shown = repr(cell if len(cell) <= 40 else cell[:40] + "...")
    expected = {"int": "an integer", "decimal": "a decimal number", "bool": "true or false"}
    raise ValueError(f"{shown} is not {expected.get(kind, kind)}")


def _csv_rows(read: Read, options: FormatOptions) -> Iterator[Row | RowError]:
    """A header record, then one row per record; blank lines are not rows."""
    # csv's field limit is process-wide; raising it (never lowering) keeps long cells readable.
    if csv.field_size_limit() < options.max_row_bytes:
        csv.field_size_limit(options.max_row_bytes)
    text = _text(read, options, newline="")  # csv itself splits "\r\n", "\r" and "\n"
    lines = _lines(text, options.max_row_bytes, fail=True)
    reader = csv.reader(lines, delimiter=options.delimiter, quotechar=options.quotechar)
    try:
        header = next((record for record in reader if record), None)
        if header is None:
            raise MalformedFileError("empty file: a CSV file starts with a header")
        _check_header(header, reader.line_num, options)
        typed: list[_Typed] = [
            (column, name, kind)
            for column, name in enumerate(header)
            if (kind := options.column_types.get(name, "str")) != "str"
        ]
        index, start = 0, reader.line_num + 1
        for record in reader:
            line, start = start, reader.line_num + 1
            if record:
                yield _csv_row(index, line, header, typed, record, enc=options.encoding)
                index += 1
    except (csv.Error, UnicodeError) as exc:
        raise MalformedFileError(f"not CSV: {exc}", line=reader.line_num) from exc


def _check_header(header: list[str], line: int, options: FormatOptions) -> None:
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
    index: int, line: int, header: list[str], typed: list[_Typed], record: list[str], *, enc: str
) -> Row | RowError:
    if len(record) != len(header):
        return RowError(index, line, f"expected {len(header)} columns, got {len(record)}")
    if _UNDECODED.search("".join(record)):
        return RowError(index, line, f"not valid {enc} text")
    value = dict(zip(header, record, strict=True))
    for column, name, kind in typed:
        cell = record[column]
        if not cell.strip():  # an empty typed cell is no value: the attribute is left out
            del value[name]
            continue
        try:
            value[name] = _cell(kind, cell)
        except ValueError as exc:
            return RowError(index, line, f"column {name!r}: {exc}")
    return Row(index, line, value)


_READERS: Mapping[str, Callable[[Read, FormatOptions], Iterator[Row | RowError]]] = {
    "json": _json_rows,
    "jsonl": _jsonl_rows,
    "csv": _csv_rows,
}
