"""The streams under the readers: any ``read(n)`` as a buffered stream, gzip inflated lazily,
text decoded verbatim, and physical lines with the byte offset after each one.

Offsets are counted back from the decoded text, which is exact only for UTF-8: undecodable
bytes become lone surrogates that ``surrogateescape`` turns back into the same bytes, and the
text keeps its line endings as they are. Counting costs one ``isascii`` per ASCII line and
one encode per other line, far less than ``TextIOWrapper.tell``, which re-decodes from a
snapshot on every call.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from bucketsync.errors import MalformedFileError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

Read = Callable[[int], bytes]
# The lone surrogates ``surrogateescape`` decodes undecodable bytes to: a line holding one was
# not valid text in the file's encoding (a row error, not a crash).
UNDECODED = re.compile("[\udc80-\udcff]")
CHUNK = 64 * 1024


def is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


class Raw(io.RawIOBase):
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

    def drop(self, prefix: bytes) -> int:
        """Consume ``prefix`` if the stream starts with it; how many bytes that was."""
        head = self._pending
        # A body may answer a byte at a time: gather enough to compare before deciding.
        while len(head) < len(prefix) and (more := self._read(CHUNK)):
            head += more
        found = head.startswith(prefix)
        self._pending = head[len(prefix) :] if found else head
        return len(prefix) if found else 0


def gunzipped(read: Read) -> Read:
    """Inflated reads (gzip members one after another); only inflating errors are translated,
    so a failure of the body itself (a dropped connection) passes unchanged."""
    inflated = gzip.GzipFile(fileobj=io.BufferedReader(Raw(read), CHUNK), mode="rb")

    def inflate(size: int) -> bytes:
        try:
            return inflated.read(size)  # at most ``size`` bytes: a gzip bomb inflates lazily
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise MalformedFileError(f"not valid gzip data: {exc}") from exc

    return inflate


def text(
    read: Read, encoding: str, newline: str, *, at_start: bool
) -> tuple[io.TextIOWrapper, int]:
    """The decoded stream, and the bytes of a UTF-8 BOM dropped at its start (0 or 3).

    Undecodable bytes become lone surrogates, so one bad line is a row error, not a crash.
    The BOM is dropped here rather than by ``utf-8-sig`` so its 3 bytes can be counted; one
    that is not at the start of the file (``at_start``) is text, as ``utf-8-sig`` has it.
    """
    raw, dropped = Raw(read), 0
    if is_utf8(encoding):
        encoding = "utf-8"
        if at_start:
            dropped = raw.drop(codecs.BOM_UTF8)
    buffered = io.BufferedReader(raw, CHUNK)
    wrapper = io.TextIOWrapper(buffered, encoding, errors="surrogateescape", newline=newline)
    return wrapper, dropped


def utf8_size(line: str) -> int:
    """The bytes ``line`` was decoded from, when it was UTF-8 (``str.isascii`` is O(1))."""
    return len(line) if line.isascii() else len(line.encode("utf-8", "surrogateescape"))


class Lines:
    """Physical lines of ``text``; after each one, ``number`` is its line number and, when
    ``offset`` was given (the byte offset ``text`` starts at), ``offset`` is where the next
    line starts. A line longer than ``limit`` characters is a malformed file if ``fail``, else
    it is skipped to its end and stands as "" (which no real line can be).

    A line ends at LF, and at a lone CR too when ``cr_ends`` (``text`` read with
    ``newline=""``, as CSV is). A CRLF is never split: where ``limit`` stops ``readline``
    between the CR and the LF, the LF is taken into the line (else it would count as one more
    line, shifting the numbers and offsets after it); a CR that ends no line is just text.

    A consumer that pulls one line at a time and no further (``csv.reader`` does) can read the
    position after each of its records here.
    """

    def __init__(
        self,
        text: io.TextIOWrapper,
        limit: int,
        *,
        fail: bool,
        cr_ends: bool = False,
        line: int = 1,
        offset: int | None = None,
    ) -> None:
        self._text, self._limit, self._fail, self._cr_ends = text, limit, fail, cr_ends
        self._counting = offset is not None
        self._ahead = ""  # the character read after a CR to see whether an LF follows
        self.number = line - 1
        self.offset = offset or 0

    def __iter__(self) -> Iterator[str]:
        counting = self._counting
        while line := self._next():
            self.number += 1
            if counting:
                self.offset += utf8_size(line)
            if self._ended(line):
                yield line
                continue
            if self._fail:
                raise MalformedFileError(
                    f"line is longer than {self._limit:,} characters", line=self.number
                )
            while rest := self._next():
                if counting:
                    self.offset += utf8_size(rest)
                if self._ended(rest):
                    break
            yield ""

    def _next(self) -> str:
        """``readline(limit)``, after the character read ahead if any; a CR's LF included."""
        text, ahead = self._text, self._ahead
        if not ahead:
            line = text.readline(self._limit)
        elif ahead == "\r" and self._cr_ends:
            self._ahead, line = "", ahead  # a lone CR: an empty line
        else:
            self._ahead, line = "", ahead + text.readline(self._limit - 1)
        if line[-1:] == "\r":
            after = text.read(1)
            if after == "\n":
                line += after
            else:
                self._ahead = after
        return line

    def _ended(self, line: str) -> bool:
        """Whether ``line`` (from :meth:`_next`) is a whole line, not ``limit`` characters of
        a longer one: it ends with its line end, or it is short because the text ended."""
        last = line[-1]
        return last == "\n" or len(line) < self._limit or (last == "\r" and self._cr_ends)
