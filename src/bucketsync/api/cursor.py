"""The listings' cursors: opaque, made by this process, good for one source and prefix only.

A cursor is base64url (unpadded) of a small JSON object and a 16-byte HMAC-SHA256 tag::

    {"v": 1, "s": "s3" | "local", "p": <digest of the prefix>, "at": <position>}

``at`` is S3's own ``NextContinuationToken`` for ``s3`` (so a page is exactly one
ListObjectsV2, and S3 judges its token) and the last key listed for ``local``. The tag's key is
drawn when the process starts: a cursor of another process, or one altered, is refused before
anything is asked of S3, so no string a client makes up can reach S3 as a token (an emulator
answers an unknown token with a 500, which a client would retry). Cursors therefore do not
outlive a restart: the listing starts again from the top.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from typing import Literal

from bucketsync.errors import CursorError

Source = Literal["s3", "local"]

VERSION = 1
TAG_BYTES = 16
# The longest cursor made: a local one holding a 1,024-byte key of control characters, each
# escaped by JSON as six bytes (\u0001), base64 adding a third; the rest is a few dozen bytes.
MAX_LENGTH = 8_600
_KEY = secrets.token_bytes(32)
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


def _prefix_digest(prefix: str) -> str:
    return hashlib.sha256(prefix.encode(errors="surrogatepass")).hexdigest()[:16]


def _tag(body: bytes) -> bytes:
    return hmac.new(_KEY, body, hashlib.sha256).digest()[:TAG_BYTES]


def make_cursor(source: Source, prefix: str, position: str) -> str:
    """The cursor that resumes the ``source`` listing under ``prefix`` at ``position``."""
    data = {"v": VERSION, "s": source, "p": _prefix_digest(prefix), "at": position}
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(
        errors="surrogatepass"
    )
    return base64.urlsafe_b64encode(body + _tag(body)).rstrip(b"=").decode("ascii")


def read_cursor(cursor: str, source: Source, prefix: str) -> str:
    """The position ``cursor`` holds, or ``CursorError`` unless this process made it for the
    ``source`` listing under ``prefix``."""
    if len(cursor) > MAX_LENGTH:
        raise CursorError(f"the cursor is too long ({len(cursor)} characters): pass next_cursor")
    if not _ALPHABET.fullmatch(cursor):
        raise CursorError("not a cursor: pass the next_cursor of the previous page as it came")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CursorError("not a cursor: it does not decode") from exc
    body, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    if len(raw) <= TAG_BYTES or not hmac.compare_digest(tag, _tag(body)):
        raise CursorError(
            "not a cursor of this service (altered, or made before it restarted): list again "
            "without a cursor"
        )
    try:
        data = json.loads(body.decode(errors="surrogatepass"))
    except ValueError as exc:  # made by this process, so never; but never a 500 either
        raise CursorError("not a cursor: it does not decode") from exc
    if not (isinstance(data, dict) and data.get("v") == VERSION):
        raise CursorError("a cursor of another version: list again without a cursor")
    position = data.get("at")
    if data.get("s") != source or not isinstance(position, str):
        raise CursorError(f"the cursor was made for source={data.get('s')}, not source={source}")
    if data.get("p") != _prefix_digest(prefix):
        raise CursorError("the cursor was made for another prefix: pass the same prefix")
    return position
