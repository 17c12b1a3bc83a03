"""What the settings and CLI tests share: example credentials that must never be shown, and
``main()`` run with its own argv, as the console script runs it."""

from __future__ import annotations

import sys

import pytest

from bucketsync.cli import main

SECRET = "supersecret-0123456789"
KEY_ID = "AKIDEXAMPLEKEYID0001"


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["bucketsync", *args])
    with pytest.raises(SystemExit) as excinfo:
        main()
    code = excinfo.value.code
    assert isinstance(code, int)
    return code
