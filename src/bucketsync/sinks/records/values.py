"""One parsed row → a DynamoDB item, or the reason DynamoDB would refuse it.

The item is plain Python for boto3's ``TypeSerializer``: Decimal for every number, dict, list,
str, bool, None and bytes. Nothing is lost on the way (floats keep the digits they were written
with, large integers stay exact, empty strings stay) and nothing is silently changed: a value
DynamoDB cannot store raises :class:`RowValueError`, which the caller records as a row error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import (
    Clamped,
    Context,
    Decimal,
    DecimalException,
    Inexact,
    Overflow,
    Rounded,
    Underflow,
)
from typing import Any

from bucketsync.errors import BucketSyncError

# DynamoDB's rules (Developer Guide, "Service quotas" and "Data types").
MAX_ITEM_BYTES = 400 * 1024
MAX_DIGITS = 38
MIN_EXPONENT, MAX_EXPONENT = -130, 125  # 1E-130 .. 9.99...E+125, either sign
MAX_DEPTH = 32
MAX_NAME_BYTES = 64 * 1024 - 1
# boto3's DYNAMODB_CONTEXT: TypeSerializer refuses any number this context would round.
_BOTO3 = Context(
    prec=38, Emin=-128, Emax=126, traps=[Clamped, Overflow, Inexact, Rounded, Underflow]
)


class RowValueError(BucketSyncError, ValueError):
    """A row holds a value DynamoDB cannot store; the message says which and why."""


def to_item(value: Mapping[str, Any], *, key_attributes: Sequence[str] = ()) -> dict[str, Any]:
    """The item for one row, checked against DynamoDB's rules; :class:`RowValueError` if not."""
    item = _map(value, "", 0)
    for name in key_attributes:
        _check_key(name, item.get(name, _MISSING))
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise RowValueError(f"item is {size:,} bytes; DynamoDB's limit is 400 KB")
    return item


def item_size(item: Mapping[str, Any]) -> int:
    """The size DynamoDB charges against the 400 KB limit: names plus values, in bytes."""
    return sum(len(name.encode()) + _size(value) for name, value in item.items())


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray):
        return len(value)
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, int | float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return (_significant_digits(number) + 1) // 2 + 1
    if isinstance(value, Mapping):
        return 3 + sum(len(k.encode()) + _size(v) + 1 for k, v in value.items())
    if isinstance(value, list | tuple):
        return 3 + sum(_size(v) + 1 for v in value)
    raise TypeError(f"not an item value: {type(value).__name__}")


def _significant_digits(number: Decimal) -> int:
    # DynamoDB trims leading and trailing zeros before it counts.
    return len("".join(map(str, number.as_tuple().digits)).strip("0"))


_MISSING = object()
_TYPE_NAMES = {dict: "map", list: "list", bool: "boolean", type(None): "null"}


def _check_key(name: str, value: Any) -> None:
    if value is _MISSING:
        raise RowValueError(f"key attribute {name!r} is missing")
    if not isinstance(value, str | Decimal | bytes):
        kind = _TYPE_NAMES.get(type(value), type(value).__name__)
        raise RowValueError(
            f"key attribute {name!r} must be a string, number or binary, not {kind}"
        )
    if not isinstance(value, Decimal) and not value:
        raise RowValueError(f"key attribute {name!r} is empty")


def _where(path: str) -> str:
    return f"{path}: " if path else ""


def _map(value: Mapping[Any, Any], path: str, depth: int) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name, member in value.items():
        if not isinstance(name, str):
            raise RowValueError(f"{_where(path)}names must be strings, not {type(name).__name__}")
        inner = f"{path}.{name}" if path else name
        if not name:
            raise RowValueError(f"{_where(path)}an attribute name is empty")
        try:
            size = len(name.encode())
        except UnicodeEncodeError:
            raise RowValueError(f"{_where(path)}a name is not valid Unicode") from None
        if size > MAX_NAME_BYTES:
            raise RowValueError(f"{_where(path)}a name is {size:,} bytes; the limit is 64 KB")
        item[name] = _value(member, inner, depth)
    return item


def _value(value: Any, path: str, depth: int) -> Any:
    """``value`` as an item value, ``depth`` containers below the item."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate, from a "\ud800" escape or a bad byte
            raise RowValueError(f"{path}: string is not valid Unicode") from None
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RowValueError(f"{path}: {value} is not a number DynamoDB can store")
        return _number(Decimal(repr(value)), path)  # repr: the shortest digits that round-trip
    if isinstance(value, int | Decimal):
        return _number(Decimal(value), path)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, Mapping | list | tuple):
        if depth >= MAX_DEPTH:
            raise RowValueError(f"{path}: nested deeper than DynamoDB's {MAX_DEPTH} levels")
        if isinstance(value, Mapping):
            return _map(value, path, depth + 1)
        return [_value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    raise RowValueError(f"{path}: cannot store a {type(value).__name__}")


def _number(number: Decimal, path: str) -> Decimal:
    if not number.is_finite():
        raise RowValueError(f"{path}: {number} is not a number DynamoDB can store")
    if not number:
        return Decimal(0)  # DynamoDB keeps neither sign nor scale of a zero
    sign, digits, exponent = number.as_tuple()
    kept = _significant_digits(number)
    if kept > MAX_DIGITS:
        raise RowValueError(f"{path}: number has {kept} significant digits; DynamoDB keeps 38")
    if not MIN_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        raise RowValueError(f"{path}: {number} is out of DynamoDB's range (1E-130 to 9.9E+125)")
    if len(digits) > MAX_DIGITS:  # trailing zeros past 38 digits: boto3 would call it inexact
        number = Decimal((sign, digits[:kept], int(exponent) + len(digits) - kept))
    try:
        return _BOTO3.create_decimal(number)
    except DecimalException:  # 38 digits do not fit near 1E-130, where precision thins out
        raise RowValueError(f"{path}: {number} cannot be stored exactly") from None
