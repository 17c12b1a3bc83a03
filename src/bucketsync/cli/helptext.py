"""``--help`` as a person reads it: a flag shows no value placeholder.

Typer 0.29 renders every option's type in the help's type column, flags included, so
``--dry-run <bool>`` (and even ``--help <bool>``) reads as if the flag took a value, which it
does not. Typer has no setting for it, so the one method that picks the placeholder is wrapped
once, here: flags get none, every other option keeps its own (``--port <int>``). Older Typer
versions, which never had the method (nor the fault), are left as they are.
"""

from __future__ import annotations

from typing import Any

from typer import core

_WRAPPED = "_bucketsync_flags_take_no_value"


def flags_take_no_value() -> None:
    option = core.TyperOption
    original = getattr(option, "display_type_rich", None)
    if original is None or getattr(original, _WRAPPED, False):
        return

    def display_type_rich(self: Any, ctx: Any) -> Any:
        if getattr(self, "is_flag", False) and getattr(self, "metavar", None) is None:
            return None
        return original(self, ctx)

    setattr(display_type_rich, _WRAPPED, True)
    setattr(option, "display_type_rich", display_type_rich)  # noqa: B010 - see the docstring
