"""What a failed command shows: one red line on stderr and one exit status, never a traceback.

The one place that maps an error to what a person sees (``explain``, called by
``bucketsync.cli.main``). The statuses, as documented in the README:

    0    done
    1    done, but not all of it went well: bad rows (load), drift (reconcile), an unhealthy
         stack (status), a key not in the catalog (catalog get); or an error of no other kind
    2    usage: a flag that cannot work as given; reconcile: an error during the run
    65   EX_DATAERR     malformed input: an event or a file that cannot be parsed at all
    66   EX_NOINPUT     the object, prefix or bucket a command names does not exist
    70   EX_SOFTWARE    a bug: the line says how to see the traceback
    74   EX_IOERR       the operating system refused: a file, a directory, a socket
    75   EX_TEMPFAIL    a passing AWS failure (throttling, 5xx, a timeout): run it again later
    78   EX_CONFIG      a setting, table, queue, port or directory that cannot work: the line
                        names it, and its variable or flag

The statuses above 2 are sysexits.h's, so shells and supervisors already know what they mean
(a supervisor should not restart on 78, and may on 75).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import NoReturn

import typer
from pydantic import ValidationError

from bucketsync.errors import (
    BucketSyncError,
    ConfigurationError,
    MalformedEventError,
    MalformedFileError,
    RetryableError,
)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DATA = 65
EXIT_NO_INPUT = 66
EXIT_SOFTWARE = 70
EXIT_IO = 74
EXIT_TRY_AGAIN = 75
EXIT_CONFIG = 78


def explain(exc: BaseException) -> tuple[int, str]:
    """The exit status and the one line a person should see for ``exc``."""
    if isinstance(exc, ValidationError):  # a setting read from the environment or a flag
        return EXIT_CONFIG, f"configuration error: {explain_validation(exc)}"
    if isinstance(exc, ConfigurationError):
        return EXIT_CONFIG, f"configuration error: {_one_line(exc)}"
    if isinstance(exc, MalformedEventError | MalformedFileError):
        return EXIT_DATA, f"malformed input: {_one_line(exc)}"
    if isinstance(exc, RetryableError):
        return EXIT_TRY_AGAIN, f"error: {_one_line(exc)} (a passing failure: try again later)"
    if isinstance(exc, BucketSyncError):
        return EXIT_FAILED, f"error: {_one_line(exc)}"
    if isinstance(exc, OSError):
        return EXIT_IO, f"error: {_os_error(exc)}"
    return (
        EXIT_SOFTWARE,
        f"internal error: {type(exc).__name__}: {_one_line(exc)} "
        "(run again with --log-level DEBUG to see where; please report it)",
    )


def explain_validation(exc: ValidationError, flags: Mapping[str, str] | None = None) -> str:
    """Each problem as ``field (BUCKETSYNC_FIELD): what is wrong``; with ``flags`` (field →
    flag), a field a flag set is named by that flag instead. Values are never echoed: a
    secret's would be."""
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        flag = (flags or {}).get(name)
        where = flag if flag else f"{name} (BUCKETSYNC_{name.upper()})"
        # A validator's own message, without pydantic's "Value error, " in front of it.
        cause = (error.get("ctx") or {}).get("error")
        message = str(cause) if error["type"] == "value_error" and cause else error["msg"]
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


def fail(message: str, code: int) -> NoReturn:
    """Say ``message`` (one line, red, on stderr) and exit with ``code``."""
    typer.secho(message, err=True, fg="red")
    raise typer.Exit(code)


def debugging() -> bool:
    """``--log-level DEBUG`` (or BUCKETSYNC_LOG_LEVEL): show a bug's traceback, not its line."""
    return logging.getLogger("bucketsync").isEnabledFor(logging.DEBUG)


def _os_error(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
