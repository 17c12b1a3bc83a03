"""JSON for the readers: arrays and objects walked by ijson behind a guard against input that
would hurt it, and the decoder of one value (a JSON Lines line, a CSV ``json`` cell)."""

from __future__ import annotations

import codecs
import io
import json
import re
import sys
from collections.abc import Iterator
from decimal import Decimal, DecimalException
from itertools import accumulate
from typing import Any

import ijson  # type: ignore[import-untyped]

from bucketsync.errors import MalformedFileError
from bucketsync.sinks.records._streams import CHUNK, Raw, Read, is_utf8

STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)  # to the end if unclosed
NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
STEP = [0] * 256
STEP[ord("[")] = STEP[ord("{")] = 1
STEP[ord("]")] = STEP[ord("}")] = -1


class JsonGuard:
    """Stops, at C speed, input that would hurt ijson 3.6's yajl2_c backend before it sees it.

    It keeps a prefix string per open level (memory grows with the square of the depth), crashes
    the process on an integer longer than Python's int-to-str limit, and builds one element
    whole. So: nesting over ``max_depth``, such integers, and ``limit`` bytes without a row
    are a malformed file. Strings are blanked out first, carrying state across chunks.
    """

    def __init__(self, read: Read, limit: int, max_depth: int) -> None:
        self._read, self._limit, self._max_depth = read, limit, max_depth
        self._since_row = self._depth = self._digits = 0
        self._in_string = self._escaped = False
        digits = sys.get_int_max_str_digits()
        # Anchored at the start of a run, so each run is scanned once: unanchored, the search
        # rescanned a run from each of its digits (quadratic in runs just under the limit).
        long_int = rb"(?<![0-9])[0-9]{%d}" % (digits + 1)
        self._long_int = re.compile(long_int) if digits else None

    def row_done(self) -> None:
        self._since_row = 0

    def __call__(self, size: int) -> bytes:
        if self._since_row > self._limit:  # the bytes read so far without a row ending
            raise MalformedFileError(f"a JSON row is larger than {self._limit:,} bytes")
        data = self._read(size)
        self._since_row += len(data)
        resume = (b'"\\' if self._escaped else b'"') if self._in_string else b""
        # The sentinel ends up outside any string: "\x01 " if the chunk ends outside one.
        text = STRING.sub(b" ", resume + data + b'\x01"\x02')
        self._in_string = text.endswith(b"\x02")
        if self._in_string:
            tail = resume + data
            self._escaped = (len(tail) - len(tail.rstrip(b"\\"))) % 2 == 1
        text = b"0" * self._digits + text[:-2]
        if self._long_int and self._long_int.search(text):
            raise MalformedFileError(f"a number has over {sys.get_int_max_str_digits()} digits")
        self._digits = 0 if self._in_string else len(text) - len(text.rstrip(b"0123456789"))
        if brackets := text.translate(None, NOT_BRACKETS):
            levels = list(accumulate(map(STEP.__getitem__, brackets), initial=self._depth))
            if max(levels) > self._max_depth:
                raise MalformedFileError(f"JSON nested deeper than {self._max_depth} levels")
            self._depth = levels[-1]
        return data


def first_byte(stream: io.BufferedReader[Any]) -> tuple[bytes, int]:
    """Consume whitespace: the next byte (unread, b"" at the end) and its line."""
    line = 1
    while chunk := stream.peek(CHUNK):
        rest = chunk.lstrip(b" \t\r\n")
        line += chunk[: len(chunk) - len(rest)].count(b"\n")
        stream.read(len(chunk) - len(rest))
        if rest:
            return rest[:1], line
    return b"", line


class AtHand:
    """The stream as ijson should read it: what is at hand, not a full buffer, so rows come
    out as soon as they arrive and the guard sees how far each one reaches."""

    def __init__(self, stream: io.BufferedReader[Any]) -> None:
        self.read, self.readinto = stream.read1, stream.readinto1


def json_values(
    read: Read, encoding: str, limit: int, max_depth: int
) -> Iterator[tuple[int | None, Any]]:
    """The elements of a top-level array, or the one top-level object, each with the line it
    starts on: None for array elements, as ijson does not tell where an element starts."""
    if not is_utf8(encoding):  # ijson: UTF-8 only
        decoded = io.TextIOWrapper(io.BufferedReader(Raw(read), CHUNK), encoding)

        def read(size: int) -> bytes:
            return decoded.read(size).encode()

    guard = JsonGuard(read, limit, max_depth)
    raw = Raw(guard)
    stream = io.BufferedReader(raw, CHUNK)
    index, single = 0, False
    try:
        raw.drop(codecs.BOM_UTF8)  # gathers its 3 bytes however few each read answers
        first, line = first_byte(stream)
        if not first:
            raise MalformedFileError("empty file: expected a JSON array or object", line=line)
        if first not in (b"[", b"{"):
            found = repr(first.decode("latin-1"))
            raise MalformedFileError(f"not a JSON array or object: found {found}", line=line)
        single = first == b"{"
        for value in ijson.items(AtHand(stream), "" if single else "item", use_float=False):
            guard.row_done()
            yield (line if single else None), value
            index += 1
    except (ijson.JSONError, ValueError, DecimalException) as exc:  # UnicodeDecodeError too
        where = f"after {index:,} row{'s' * (index > 1)}" if index else "before the first row"
        detail = _OUT_OF_RANGE if isinstance(exc, DecimalException) else _first_line(exc)
        reason = f"invalid JSON {where}: {detail}"
        if single and "trailing garbage" in reason:
            reason += " (several values in one file are JSON Lines: use .jsonl or kind 'jsonl')"
        raise MalformedFileError(reason) from exc


def _first_line(exc: Exception) -> str:
    message = exc.args[0] if exc.args else exc
    if isinstance(message, bytes):  # yajl2_c reports some errors as bytes
        message = message.decode("utf-8", "replace")
    return str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    names = {dict: "object", list: "array", str: "string", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number DynamoDB can store")


# ijson and Decimal raise decimal.InvalidOperation for an exponent past about 10**18.
_OUT_OF_RANGE = "a number is out of range (its exponent is past what Decimal can hold)"


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except DecimalException:
        raise ValueError(_OUT_OF_RANGE) from None


# One decoder: json.loads with options would build a new one per row.
loads = json.JSONDecoder(parse_float=_decimal, parse_constant=_no_constant).decode


def json_reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} (col {exc.colno})"
    if isinstance(exc, RecursionError):
        return "not valid JSON: nested too deeply"
    return f"not valid JSON: {exc}"
