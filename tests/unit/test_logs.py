"""``configure_logging``: Powertools JSON on stdout, or readable lines on stderr.

Each test starts from a pristine ``bucketsync`` logger (no handlers, no Powertools marks: a
Powertools ``Logger`` created earlier in the session, e.g. by ``LambdaApp``, would otherwise
be reused with its stale stream) and the logger is put back exactly as it was afterwards.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bucketsync.logs import SERVICE, configure_logging, in_lambda
from bucketsync.settings import Settings

CHILD = "bucketsync.engine.pipeline"
# Attributes Powertools' Logger sets on the std logger it configures (its "preconfigured" marks).
POWERTOOLS_MARKS = (
    "init",
    "powertools_handler",
    "powertools_buffer_config",
    "powertools_buffer_cache",
)
_MISSING = object()


@pytest.fixture(autouse=True)
def pristine_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[logging.Logger]:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME", raising=False)
    monkeypatch.delenv("POWERTOOLS_LOG_LEVEL", raising=False)
    logger = logging.getLogger(SERVICE)
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    marks: dict[str, Any] = {name: getattr(logger, name, _MISSING) for name in POWERTOOLS_MARKS}
    # Powertools adds a filter to every root handler (suppressing bucketsync.* there)
    root_filters = {handler: list(handler.filters) for handler in logging.root.handlers}

    logger.handlers.clear()
    for name in POWERTOOLS_MARKS:
        if hasattr(logger, name):
            delattr(logger, name)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
    yield logger

    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate
    for name, value in marks.items():
        if value is _MISSING:
            if hasattr(logger, name):
                delattr(logger, name)
        else:
            setattr(logger, name, value)
    for handler, filters in root_filters.items():
        handler.filters[:] = filters


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def test_json_format_writes_one_json_line_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"))
    logging.getLogger(CHILD).warning("x")
    captured = capsys.readouterr()
    [record] = json_lines(captured.out)
    assert record["level"] == "WARNING"
    assert record["message"] == "x"
    assert record["service"] == "bucketsync"
    assert "timestamp" in record
    assert captured.err == ""


def test_json_format_carries_extra_keys_and_respects_the_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_format="json", log_level="warning"))
    child = logging.getLogger(CHILD)
    child.info("hidden")
    child.error("shown %d", 42, extra={"key": "a b+c"})
    [record] = json_lines(capsys.readouterr().out)
    assert record["message"] == "shown 42"
    assert record["level"] == "ERROR"
    assert record["key"] == "a b+c"


def test_text_format_writes_a_readable_line_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="text"))
    logging.getLogger(CHILD).warning("x")
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert not is_json(line)
    assert "WARNING" in line
    assert line.endswith(f"{CHILD}: x")


def test_text_format_respects_the_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="text", log_level="info"))
    child = logging.getLogger(CHILD)
    child.debug("hidden")
    child.info("shown")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].endswith("shown")


def test_text_format_configures_one_handler_however_often_it_runs(
    pristine_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        configure_logging(Settings(log_format="text"))
    assert len(pristine_logger.handlers) == 1
    assert pristine_logger.propagate is False
    logging.getLogger(CHILD).warning("once")
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_json_format_configures_one_handler_however_often_it_runs(
    pristine_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        configure_logging(Settings(log_format="json"))
    assert len(pristine_logger.handlers) == 1
    logging.getLogger(CHILD).warning("once")
    assert len(json_lines(capsys.readouterr().out)) == 1


def test_auto_is_text_outside_lambda(capsys: pytest.CaptureFixture[str]) -> None:
    assert not in_lambda()
    configure_logging(Settings(log_format="auto"))
    logging.getLogger(CHILD).warning("on a terminal")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.rstrip().endswith("on a terminal")


def test_auto_is_json_in_lambda(
    pristine_logger: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "bucketsync")
    assert in_lambda()
    configure_logging(Settings(log_format="auto"))
    logging.getLogger(CHILD).warning("in lambda")
    captured = capsys.readouterr()
    [record] = json_lines(captured.out)
    assert record["message"] == "in lambda" and record["service"] == "bucketsync"
    assert captured.err == ""


def test_switching_formats_leaves_only_the_last_one(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"))
    configure_logging(Settings(log_format="text"))
    configure_logging(Settings(log_format="json"))
    logging.getLogger(CHILD).warning("x")
    captured = capsys.readouterr()
    assert [r["message"] for r in json_lines(captured.out)] == ["x"]
    assert captured.err == ""


def test_json_reconfiguration_applies_the_new_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json", log_level="INFO"))
    configure_logging(Settings(log_format="json", log_level="ERROR"))
    logging.getLogger(CHILD).warning("should be filtered out")
    assert capsys.readouterr().out == ""
