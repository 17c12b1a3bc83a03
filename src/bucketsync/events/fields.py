"""Typed, path-aware reads of decoded JSON: the only place envelope parsers touch raw values.

Every reader either returns a value of the promised type or raises
:class:`~bucketsync.errors.MalformedEventError` naming the offending field, so a parser built
from them cannot leak ``KeyError``/``TypeError``/``ValueError``. A reader gets the field's
name, ``where`` (the path of the record or event being parsed) and ``within`` (the object's
path inside it, ``s3.object``); it joins them only when it raises, so no path is built on the
way through a valid event.

``>`` in a path marks a step into JSON text carried inside a string (an SQS ``body``, an SNS
``Message``): ``Records[0].body>Message>Records[0].s3.object.key``.

Hand-written rather than pydantic models: the shapes are small, the error paths come out
exactly as we want them, and there is no model construction or ``ValidationError``
translation on the per-event hot path.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import NoReturn

from bucketsync.errors import MalformedEventError
from bucketsync.events.sequencer import sequencer_sort_key

JsonObject = dict[str, object]

# S3 sends an object's size as a signed 64-bit integer (Content-Length): anything larger is no
# object's size, and past 38 digits DynamoDB (and boto3's serializer) could not even store it.
MAX_SIZE = 2**63 - 1


EMBEDDED = ">"


def join(where: str, name: str) -> str:
    if not where or where.endswith(EMBEDDED):
        return where + name
    return f"{where}.{name}"


def fail(reason: str, where: str, name: str = "", within: str = "") -> NoReturn:
    """Raise for ``name`` in the object at ``within`` (relative to ``where``) or at ``where``."""
    path = join(where, within) if within else where
    raise MalformedEventError(reason, join(path, name) if name else path.rstrip(EMBEDDED))


def _reject_constant(token: str) -> NoReturn:
    # NaN and Infinity are not JSON; Python's decoder accepts them unless told otherwise.
    raise MalformedEventError(f"{token} is not valid JSON")


# Built once: json.loads with any option builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode_json(text: str | bytes, where: str) -> object:
    """One JSON document; every way that can fail becomes a MalformedEventError."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedEventError(f"body is not UTF-8 ({exc.reason})", where) from None
    try:
        return _DECODER.decode(text)
    except MalformedEventError as exc:
        raise MalformedEventError(exc.reason, where) from None
    except RecursionError:
        # The C decoder recurses once per nesting level.
        raise MalformedEventError("JSON nested too deeply", where) from None
    except ValueError as exc:
        # JSONDecodeError, and the int-from-string digit limit, are both ValueErrors.
        raise MalformedEventError(f"not valid JSON ({_clip(str(exc))})", where) from None


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: object) -> str:
    """For error messages: a string's (clipped) repr, otherwise only the JSON type.

    Never the repr of anything else: that of a huge int raises, and that of a deep list recurses.
    """
    return _clip(repr(value)) if isinstance(value, str) else _kind(value)


def _encodable(value: str) -> bool:
    # A lone surrogate (JSON allows "\ud800") survives decoding but not boto3 or DynamoDB.
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def as_object(value: object, where: str) -> JsonObject:
    if not isinstance(value, dict):
        fail(f"expected an object, got {_kind(value)}", where)
    return value


def req_object(parent: JsonObject, name: str, where: str, within: str = "") -> JsonObject:
    value = parent.get(name)
    if not isinstance(value, dict):
        fail(f"expected an object, got {_got(parent, name)}", where, name, within)
    return value


def opt_object(parent: JsonObject, name: str, where: str, within: str = "") -> JsonObject | None:
    value = parent.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        fail(f"expected an object or null, got {_kind(value)}", where, name, within)
    return value


def req_list(parent: JsonObject, name: str, where: str, within: str = "") -> list[object]:
    value = parent.get(name)
    if not isinstance(value, list):
        fail(f"expected an array, got {_got(parent, name)}", where, name, within)
    return value


def req_str(parent: JsonObject, name: str, where: str, within: str = "") -> str:
    """A non-empty string: bucket names, keys, event names."""
    value = parent.get(name)
    if not isinstance(value, str):
        fail(f"expected a non-empty string, got {_got(parent, name)}", where, name, within)
    if not value:
        fail("must not be empty", where, name, within)
    if not _encodable(value):
        fail("is not valid Unicode (lone surrogate)", where, name, within)
    return value


def opt_str(parent: JsonObject, name: str, where: str, within: str = "") -> str | None:
    """Absent and null both mean "not carried"; anything else must be a string."""
    value = parent.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        fail(f"expected a string or null, got {_kind(value)}", where, name, within)
    if not _encodable(value):
        fail("is not valid Unicode (lone surrogate)", where, name, within)
    return value


def opt_nonempty_str(parent: JsonObject, name: str, where: str, within: str = "") -> str | None:
    value = opt_str(parent, name, where, within)
    if value == "":
        fail("must not be empty", where, name, within)
    return value


def opt_size(parent: JsonObject, name: str, where: str, within: str = "") -> int | None:
    value = parent.get(name)
    if value is None:
        return None
    # bool is an int subclass; JSON true is not a size.
    if not isinstance(value, int) or isinstance(value, bool):
        fail(f"expected a non-negative integer, got {_kind(value)}", where, name, within)
    if value < 0:
        fail("must not be negative", where, name, within)
    if value > MAX_SIZE:
        fail("is larger than any object can be (2**63 - 1 bytes)", where, name, within)
    return value


def opt_etag(parent: JsonObject, name: str, where: str, within: str = "") -> str | None:
    value = opt_str(parent, name, where, within)
    if value is None:
        return None
    return value.strip('"') or None


def opt_sequencer(parent: JsonObject, name: str, where: str, within: str = "") -> str | None:
    """Kept as sent, but only if the engine will be able to order it."""
    value = opt_str(parent, name, where, within)
    if value is None:
        return None
    try:
        sequencer_sort_key(value)
    except MalformedEventError:
        fail(f"{describe(value)} is not 1 to 64 hexadecimal digits", where, name, within)
    return value


def _timestamp(value: object, where: str, name: str = "", within: str = "") -> datetime:
    """An ISO-8601 string with an offset, or (moto's EventBridge) seconds since the epoch."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            fail(f"{describe(value)} is not an ISO-8601 time", where, name, within)
        if parsed.utcoffset() is None:
            fail(f"{describe(value)} has no time zone", where, name, within)
        return parsed
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            # NaN, infinities, and years outside 1..9999.
            fail("epoch seconds out of range for a time", where, name, within)
    fail(
        f"expected an ISO-8601 string or epoch seconds, got {describe(value)}", where, name, within
    )


def req_time(parent: JsonObject, name: str, where: str, within: str = "") -> datetime:
    if name not in parent:
        fail("is missing", where, name, within)
    return _timestamp(parent[name], where, name, within)


def _got(parent: JsonObject, name: str) -> str:
    return _kind(parent[name]) if name in parent else "nothing (missing)"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
