"""Helpers shared by the commands."""

from __future__ import annotations

import typer

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
