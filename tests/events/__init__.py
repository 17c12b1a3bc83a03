"""Golden S3 event payloads, as AWS documents them and as moto 5.2.5 really sends them.

Files named ``*_sqs_body.json`` (and the bare S3/EventBridge/test events) are message bodies,
what ``parse_message`` receives; ``sqs_lambda_*``/``sns_lambda_*`` are Lambda invocation events.
``moto_*`` files are byte-for-byte what moto emitted (captured with moto's in-process backends);
``moto_eventbridge_event.json`` is moto's event before its SQS target rewrites ``time``.
"""

from __future__ import annotations

import json
from pathlib import Path

EVENTS_DIR = Path(__file__).parent


def event_names() -> list[str]:
    """Every golden payload, by file stem."""
    return sorted(path.stem for path in EVENTS_DIR.glob("*.json"))


def event_text(name: str) -> str:
    return (EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8")


def load_event(name: str) -> object:
    loaded: object = json.loads(event_text(name))
    return loaded
