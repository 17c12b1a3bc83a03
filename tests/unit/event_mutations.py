"""Fuzzing the event parsers (issue 15): mutating a payload.

Goes past ``test_events_properties.py`` (one field of a golden payload dropped or replaced, any
small JSON, any text): the golden payloads of ``tests/events`` and payloads built from the
envelope grammar take several structural mutations at once: fields dropped, renamed or added,
wrong types, huge and negative numbers, odd %-encoded keys, objects turned into JSON text and
JSON text into objects, envelopes wrapped around any part, JSON-text bombs where SNS and SQS
carry text.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from hypothesis import strategies as st

from tests.events import event_names, event_text, load_event
from tests.unit.event_fuzzing import MAX_SIZE

# --- mutating a payload ----------------------------------------------------------------------

IN_JSON = "<json>"  # a path step into the JSON document a string carries
Step = str | int
Path = tuple[Step, ...]
GOLDEN = {name: load_event(name) for name in event_names()}


def carried(value: object) -> object | None:
    """The object or array a string carries as JSON text, if it does."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            decoded: object = json.loads(value)
        except (ValueError, RecursionError):
            return None
        return decoded if isinstance(decoded, dict | list) else None
    return None


def paths(value: object, prefix: Path = ()) -> list[Path]:
    """Every node's path, the root's (``()``) first, through JSON text carried in strings."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    elif (inner := carried(value)) is not None:
        found += paths(inner, (*prefix, IN_JSON))[1:]
    return found


DROP = object()


def edit(value: object, path: Path, change: Callable[[object], object]) -> object:
    """A copy of ``value`` with the node at ``path`` changed (or dropped, if DROP comes back)."""
    if not path:
        return change(value)
    step, rest = path[0], path[1:]
    if step == IN_JSON:
        assert isinstance(value, str)
        return json.dumps(edit(json.loads(value), rest, change))
    copied = copy.copy(value)
    assert isinstance(copied, dict | list)
    new = edit(copied[step], rest, change) if rest else change(copied[step])  # type: ignore[index]
    if new is DROP:
        del copied[step]  # type: ignore[arg-type]
    else:
        copied[step] = new  # type: ignore[index]
    return copied


def rewrite(value: object, change: Callable[[str, object], object]) -> object:
    """Every ``(name, member)`` of every object, through carried JSON, put through ``change``."""
    if isinstance(value, dict):
        return {name: change(name, rewrite(member, change)) for name, member in value.items()}
    if isinstance(value, list):
        return [rewrite(member, change) for member in value]
    if (inner := carried(value)) is not None:
        return json.dumps(rewrite(inner, change))
    return value


# Pieces of keys: every way S3 and moto encode, and ways they never would.
KEY_PIECES = [
    *"aZ09/._-~ +%",
    "%2F",
    "%2B",
    "%20",
    "%25",
    "%3A",
    "%C3%A9",
    "%E5%90%8D",
    "%F0%9F%98%80",
    "%FF",
    "%C3",
    "%ED%A0%80",  # an encoded surrogate: not UTF-8
    "%00",
    "%0A",
    "%G1",
    "%2",
    "\u00e9",
    "\u540d",
    "\U0001f600",
    "\ud800",
    "\x00",
    "\n",
]
KEYS = st.lists(st.sampled_from(KEY_PIECES), max_size=12).map("".join)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=MAX_SIZE - 2, max_value=MAX_SIZE + 2),
    st.sampled_from([0, -1, -(2**63), 2**64, 10**38, 10**39, 10**400, -(10**400)]),
    st.floats(),
    st.booleans(),
)
TIMES = st.one_of(
    st.datetimes().map(datetime.isoformat),
    st.sampled_from(
        [
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:00:00.123456+05:30",
            "2026-11-23T10:00:00",
            "2026-11-23",
            "0001-01-01T00:00:00+00:00",
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59-23:59",
            "2026-02-30T00:00:00Z",
            "2026-11-23T10:00:00+24:00",
            "2026-11-23T10:00:00.1234567Z",
            "",
            "\ud800",
        ]
    ),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{0,15}(Z|[+-][0-9:]{0,8})?\Z"),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(),
)
NAMES = st.sampled_from(
    [
        "ObjectCreated:Put",
        "ObjectCreated:",
        "ObjectCreated",
        "ObjectRemoved:DeleteMarkerCreated",
        "LifecycleExpiration:Delete",
        "ObjectTagging:Put",
        "ObjectRestore:Completed",
        "objectcreated:Put",
        "Object Created",
        "Object Deleted",
        "Object Restore Completed",
        "Delete Marker Created",
        "Lifecycle Expiration",
        "Permanently Deleted",
        "PutObject",
        ":",
        "",
    ]
) | st.text(max_size=12)
WORDS = st.sampled_from(
    [
        "Records",
        "records",
        "eventSource",
        "EventSource",
        "aws:s3",
        "aws:sqs",
        "aws:sns",
        "aws.s3",
        "body",
        "Sns",
        "Message",
        "Type",
        "Notification",
        "SubscriptionConfirmation",
        "detail-type",
        "detail",
        "source",
        "s3",
        "object",
        "bucket",
        "name",
        "key",
        "size",
        "sequencer",
        "Event",
        "s3:TestEvent",
        "Service",
        "Amazon S3",
    ]
)
GOLDEN_TEXTS = st.sampled_from(sorted(GOLDEN)).map(event_text)


def bomb(draw: st.DrawFn) -> str:
    """JSON text built to hurt a decoder: deep nesting, digit bombs, constants, a BOM."""
    depth = draw(st.sampled_from([2, 100, 1000, 5000, 100_000]))
    return draw(
        st.sampled_from(
            [
                "[" * depth + "]" * depth,
                '{"a":' * depth + "1" + "}" * depth,
                "[" * depth,
                "1" * 4301,
                "-" + "9" * 5000,
                '{"size": ' + "1" * 4400 + "}",
                '{"size": 1e999999999}',
                "NaN",
                '{"Records": [Infinity]}',
                "\ufeff{}",
                '{"a": "\\ud800"}',
                '{"Records": "[]"}',
            ]
        )
    )


SCALARS = st.one_of(
    st.none(), NUMBERS, WORDS, KEYS, TIMES, NAMES, st.text(max_size=8), GOLDEN_TEXTS
)
HOSTILE = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(WORDS | st.text(), inner, max_size=3)
    ),
    max_leaves=8,
)


def wrap(draw: st.DrawFn, value: object) -> object:
    """``value`` as JSON text inside an envelope that carries text."""
    text = json.dumps(value)
    how = draw(st.sampled_from(["sns", "lambda_sqs", "lambda_sns"]))
    if how == "sns":
        return {"Type": "Notification", "Message": text}
    if how == "lambda_sqs":
        return {"Records": [{"eventSource": "aws:sqs", "body": text}]}
    return {
        "Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": text}}]
    }


def mutation(draw: st.DrawFn, node: object) -> object:
    """One structural change to ``node``: the replacement, or DROP."""
    what = draw(
        st.sampled_from(
            [
                "drop",
                "hostile",
                "stringify",
                "decode",
                "add",
                "rename",
                "grow",
                "key",
                "number",
                "time",
                "name",
                "wrap",
                "nest",
                "bomb",
                "empty",
            ]
        )
    )
    if what == "drop":
        return DROP
    if what == "stringify":  # a string where an object (or anything) is expected
        return json.dumps(node)
    if what == "decode":  # an object where a string of JSON is expected
        inner = carried(node)
        return node if inner is None else inner
    if what == "add" and isinstance(node, dict):
        return {**node, draw(WORDS | st.text(max_size=6)): draw(HOSTILE)}
    if what == "rename" and isinstance(node, dict) and node:
        old = draw(st.sampled_from(sorted(node)))
        new = draw(st.sampled_from([old.lower(), old.upper(), old + " ", quote(old), ""]))
        return {(new if name == old else name): member for name, member in node.items()}
    if what == "grow":
        if isinstance(node, list):
            return node * draw(st.integers(0, 3))
        if isinstance(node, str):
            return node * draw(st.integers(0, 3)) + draw(st.text(max_size=4))
    if what == "key":
        return draw(KEYS)
    if what == "number":
        return draw(NUMBERS)
    if what == "time":
        return draw(TIMES)
    if what == "name":
        return draw(NAMES)
    if what == "wrap":
        return wrap(draw, node)
    if what == "nest":
        depth = draw(st.integers(1, 60))
        for _ in range(depth):
            node = draw(st.sampled_from([[node], {"Records": node}, {"detail": node}]))
        return node
    if what == "bomb":
        return bomb(draw)
    if what == "empty":  # of the same type: [], {}, "", 0
        return type(node)() if isinstance(node, list | dict | str | int | float) else None
    return draw(HOSTILE)


@st.composite
def mutated(draw: st.DrawFn, start: object) -> object:
    event = start
    for _ in range(draw(st.integers(1, 6))):
        path = draw(st.sampled_from(paths(event)))
        if not path:  # the root cannot be dropped
            event = wrap(draw, event) if draw(st.booleans()) else draw(HOSTILE)
            continue
        event = edit(event, path, lambda node: mutation(draw, node))
    return event
