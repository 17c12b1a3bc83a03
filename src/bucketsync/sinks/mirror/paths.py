"""Where a key lives under the mirror's root: a reversible, segment-by-segment mapping.

An S3 key is any UTF-8 string up to 1,024 bytes; a POSIX path is not. Each ``/``-separated
segment of the key is escaped on its own with percent-escapes, so that ``key_of`` can always
give the key back and no key can name anything outside the root or the mirror's own files:

=====================================  ===========================================
in a key segment                       on disk
=====================================  ===========================================
``%``                                  ``%25`` (so every ``%`` on disk starts an escape)
``\\``                                  ``%5C`` (a separator on Windows, and to tools)
control characters (NUL, ``\\n``, C1)   ``%XX`` per UTF-8 byte (``%00``, ``%0A``, ``%C2%85``)
the whole segment ``.`` / ``..``       ``%2E`` / ``%2E%2E``
an empty segment (``/a``, ``a//b``)    ``%`` alone, which escaping never produces
a segment starting ``.bucketsync``     its dot escaped: ``%2Ebucketsync...``; the name is the
                                       mirror's (state directory, temporary files)
=====================================  ===========================================

Refused (``UnsafeKeyError``): the empty key, a key ending in ``/`` (a folder placeholder), a
segment longer than 255 bytes once escaped, a path over 4,095 bytes, and a path that would
pass through a symbolic link (planted in the root, it could lead anywhere).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from urllib.parse import unquote

from bucketsync.errors import UnsafeKeyError

STATE_DIR = ".bucketsync"  # <root>/.bucketsync/state.sqlite; also the temporary files' prefix
EMPTY_SEGMENT = "%"
NAME_MAX = 255  # bytes in one file name (Linux, macOS)
PATH_MAX = 4096  # bytes in a path, its terminating NUL included (Linux)

# Category Cc exactly (C0, DEL, C1), plus the two characters escaping itself needs.
_ESCAPED = re.compile(r"[%\\\x00-\x1f\x7f-\x9f]")


def _percent(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode())


def escape_segment(segment: str) -> str:
    if not segment:
        return EMPTY_SEGMENT
    if segment == ".":
        return "%2E"
    if segment == "..":
        return "%2E%2E"
    escaped = _ESCAPED.sub(_percent, segment)
    if escaped.startswith(STATE_DIR):
        return "%2E" + escaped[1:]
    return escaped


def relative_path(key: str) -> str:
    """The key's path relative to the root (``/``-separated), checked for length only."""
    if not key:
        raise UnsafeKeyError(key, "an empty key")
    if key.endswith("/"):
        raise UnsafeKeyError(key, "a folder placeholder (ends with '/'), not a file")
    try:
        key.encode()
    except UnicodeEncodeError as exc:
        raise UnsafeKeyError(key, "not valid UTF-8 (S3 keys always are)") from exc
    segments = [escape_segment(segment) for segment in key.split("/")]
    for segment in segments:
        if len(segment.encode()) > NAME_MAX:
            raise UnsafeKeyError(
                key, f"a path segment of {len(segment.encode())} bytes (the limit is {NAME_MAX})"
            )
    return "/".join(segments)


def local_path(root: Path, key: str) -> Path:
    """Where ``key`` is mirrored under ``root``, or ``UnsafeKeyError`` saying why it can't be.

    The answer is always inside ``root``: lexically by construction, and on disk because any
    symbolic link on the way (a directory or the file itself) is refused, not followed.
    """
    relative = relative_path(key)
    path = root / relative
    if len(os.fsencode(path)) >= PATH_MAX:
        raise UnsafeKeyError(
            key, f"a path of {len(os.fsencode(path))} bytes (the limit is {PATH_MAX - 1})"
        )
    # Resolved, the path must be the resolved root plus the very same segments: any link on
    # the way (to anywhere, even inside the root) would make them differ.
    if os.path.realpath(path) != os.path.join(_real(str(root)), relative):
        raise UnsafeKeyError(key, f"{path} passes through a symbolic link")
    return path


@functools.lru_cache(maxsize=16)
def _real(root: str) -> str:
    """The root resolved, once: were it swapped for a link since, paths would resolve
    elsewhere and be refused, so the cache can only refuse more, never allow more."""
    return os.path.realpath(root)


def key_of(root: Path, path: Path) -> str:
    """The key ``local_path`` maps to ``path``; ``UnsafeKeyError`` if it maps none there.

    ``path`` is absolute under ``root`` or relative to it. Strict: a name the mirror would
    never write (a user's ``100%.txt``, a lowercase ``%2e``) is refused, not guessed at.
    """
    try:
        relative = path.relative_to(root) if path.is_absolute() else path
    except ValueError as exc:
        raise UnsafeKeyError(str(path), f"not under the root {root}") from exc
    text = relative.as_posix()
    if text in ("", ".") or relative.is_absolute():
        raise UnsafeKeyError(text, "not a file under the root")
    try:
        key = "/".join(
            "" if segment == EMPTY_SEGMENT else unquote(segment, errors="strict")
            for segment in text.split("/")
        )
    except UnicodeDecodeError as exc:
        raise UnsafeKeyError(text, "escapes that are not UTF-8") from exc
    try:
        again = relative_path(key)
    except UnsafeKeyError as exc:
        raise UnsafeKeyError(text, f"not a path the mirror writes ({exc.reason})") from exc
    if again != text:
        raise UnsafeKeyError(text, "not a path the mirror writes")
    return key
