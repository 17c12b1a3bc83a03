"""The ``bucketsync`` command: thin commands over the library (parse, call, map errors)."""

from __future__ import annotations

import sys

import typer

from bucketsync.cli.app import app
from bucketsync.errors import BucketSyncError, ConfigurationError, MalformedEventError

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except ConfigurationError as exc:
        typer.secho(f"configuration error: {exc}", err=True, fg="red")
        sys.exit(78)  # EX_CONFIG
    except MalformedEventError as exc:
        typer.secho(f"malformed input: {exc}", err=True, fg="red")
        sys.exit(65)  # EX_DATAERR
    except BucketSyncError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(1)
