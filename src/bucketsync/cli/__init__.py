"""The ``bucketsync`` command: thin commands over the library (parse, call, map errors)."""

from __future__ import annotations

import sys

import typer

from bucketsync.cli.app import app
from bucketsync.cli.exits import EXIT_SOFTWARE, debugging, explain

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except Exception as exc:  # every error a person meets: one line and a status (cli.exits)
        code, line = explain(exc)
        if code == EXIT_SOFTWARE and debugging():
            raise  # a bug, and its traceback was asked for
        typer.secho(line, err=True, fg="red")
        sys.exit(code)
