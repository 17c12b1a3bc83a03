"""Helpers shared by the commands."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from bucketsync.errors import ConfigurationError

_SCHEME = "s3://"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` → ``("bucket", "some/key")``; the key may be empty.

    Split by hand, not with urlsplit: S3 keys may hold ``#``, ``?`` and spaces, and urlsplit
    would strip or reinterpret them.
    """
    if not uri.startswith(_SCHEME):
        raise typer.BadParameter(f"expected s3://bucket/key, got {uri!r}")
    bucket, _, key = uri[len(_SCHEME) :].partition("/")
    if not bucket or any(c.isspace() or not c.isprintable() for c in bucket):
        raise typer.BadParameter(f"expected s3://bucket/key with a valid bucket, got {uri!r}")
    return bucket, key


def usable_directory(path: str, where: str) -> Path:
    """``path`` made if need be and checked writable, before anything starts to fill it.

    Each refusal is one ``ConfigurationError`` naming ``where`` (the flag and variable) and
    the reason: a file in the way, a place that cannot hold a directory (``/proc/x``), or one
    this user cannot write. The probe is an anonymous temporary file, so nothing is left.
    """
    root = Path(path).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except FileExistsError:
        raise ConfigurationError(f"{where} {path}: is a file, not a directory") from None
    except NotADirectoryError:
        raise ConfigurationError(f"{where} {path}: a part of it is a file") from None
    except OSError as exc:
        verb = "cannot be written" if root.is_dir() else "cannot be made"
        reason = exc.strerror or str(exc)
        raise ConfigurationError(f"{where} {path}: {verb} ({reason})") from None
    return root
