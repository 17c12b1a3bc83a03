"""Helpers shared by the commands."""

from __future__ import annotations

from urllib.parse import urlsplit

import typer


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` → ``("bucket", "some/key")``; the key may be empty."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise typer.BadParameter(f"expected s3://bucket/key, got {uri!r}")
    # urlsplit would treat '#' and '?' as URL syntax; S3 keys may contain both.
    rest = uri[len("s3://") + len(parts.netloc) :]
    return parts.netloc, rest.removeprefix("/")
