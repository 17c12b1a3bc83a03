"""Logging: structured JSON in Lambda (Powertools Logger), readable lines on a terminal.

Modules log through ``logging.getLogger(__name__)`` (all below ``bucketsync``); this module
only decides what the ``bucketsync`` logger's one handler prints. Configuring again replaces
the previous configuration (tests, repeated in-process CLI runs, several Lambda apps).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.constants import LOGGER_ATTRIBUTE_PRECONFIGURED

from bucketsync.settings import Settings

SERVICE = "bucketsync"


def in_lambda() -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


def _reset(root: logging.Logger) -> None:
    for handler in list(root.handlers):
        root.removeHandler(handler)
    # Powertools marks a logger it configured and then reuses that setup; forget the marks.
    for mark in [LOGGER_ATTRIBUTE_PRECONFIGURED, *vars(root)]:
        if mark == LOGGER_ATTRIBUTE_PRECONFIGURED or mark.startswith("powertools_"):
            with contextlib.suppress(AttributeError):
                delattr(root, mark)


def json_logger(settings: Settings) -> Logger:
    """Powertools Logger named ``bucketsync``: every child logger propagates into its JSON."""
    _reset(logging.getLogger(SERVICE))
    return Logger(service=SERVICE, level=settings.log_level)


def configure_logging(settings: Settings) -> None:
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "json" if in_lambda() else "text"
    if fmt == "json":
        json_logger(settings)
        return
    root = logging.getLogger(SERVICE)
    _reset(root)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    root.propagate = False
