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

from bucketsync.errors import RowValueError

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


def to_item(value: Mapping[str, Any], *, key_attributes: Sequence[str] = ()) -> dict[str, Any]:
    """The item for one row, checked against DynamoDB's rules; :class:`RowValueError` if not."""
    item, size = convert(value, key_attributes=key_attributes)
    if size > MAX_ITEM_BYTES:
        raise RowValueError(f"item is {size:,} bytes; DynamoDB's limit is 400 KB")
    return item


def convert(
    value: Mapping[str, Any], *, key_attributes: Sequence[str] = ()
) -> tuple[dict[str, Any], int]:
    """The item for one row and its :func:`item_size`, in one walk (the loader's hot path:
    it adds its own keys before checking the limit); :class:`RowValueError` if not storable."""
    try:
        item, size = _map(value, 0)
    except _Refused as exc:
        raise RowValueError(exc.message(top=True)) from None
    for name in key_attributes:
        _check_key(name, item.get(name, _MISSING))
    # An item is not a map value: no container overhead, no byte per attribute.
    return item, size - 3 - len(item)


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
    digits = number.as_tuple().digits
    kept = len(digits)
    while kept and digits[kept - 1] == 0:
        kept -= 1
    return kept - next((n for n, d in enumerate(digits) if d), kept)


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


class _Refused(Exception):
    """A value that cannot be stored. The path is built only when one is refused, segment by
    segment as the exception leaves each container: the good rows pay nothing for it."""

    def __init__(self, reason: str, *, in_map: bool = False) -> None:
        self.reason, self.in_map, self.path = reason, in_map, ""

    def within(self, segment: str) -> _Refused:
        self.path = segment + self.path
        return self

    def message(self, *, top: bool) -> str:
        path = self.path[1:] if self.path.startswith(".") else self.path
        if self.in_map:  # about the map's own names: said of the map, or bare at the top
            return f"{path}: {self.reason}" if path else self.reason
        return f"{path}: {self.reason}"


def _map(value: Mapping[Any, Any], depth: int) -> tuple[dict[str, Any], int]:
    item: dict[str, Any] = {}
    total = 3
    for name, member in value.items():
        if not isinstance(name, str):
            raise _Refused(f"names must be strings, not {type(name).__name__}", in_map=True)
        if not name:
            raise _Refused("an attribute name is empty", in_map=True)
        if name.isascii():
            size = len(name)
        else:
            try:
                size = len(name.encode())
            except UnicodeEncodeError:
                raise _Refused("a name is not valid Unicode", in_map=True) from None
        if size > MAX_NAME_BYTES:
            raise _Refused(f"a name is {size:,} bytes; the limit is 64 KB", in_map=True)
        try:
            item[name], bytes_ = _value(member, depth)
        except _Refused as exc:
            raise exc.within(f".{name}") from None
        total += size + bytes_ + 1
    return item, total


def _value(value: Any, depth: int) -> tuple[Any, int]:
    """``value`` as an item value and its size, ``depth`` containers below the item."""
    if isinstance(value, str):
        if value.isascii():
            return value, len(value)
        try:
            return value, len(value.encode())
        except UnicodeEncodeError:  # a lone surrogate, from a "\ud800" escape or a bad byte
            raise _Refused("string is not valid Unicode") from None
    if value is None or isinstance(value, bool):
        return value, 1
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Refused(f"{value} is not a number DynamoDB can store")
        return _number(Decimal(repr(value)))  # repr: the shortest digits that round-trip
    if isinstance(value, int | Decimal):
        return _number(Decimal(value))
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return data, len(data)
    if isinstance(value, Mapping | list | tuple):
        if depth >= MAX_DEPTH:
            raise _Refused(f"nested deeper than DynamoDB's {MAX_DEPTH} levels")
        if isinstance(value, Mapping):
            return _map(value, depth + 1)
        items, total = [], 3
        for index, member in enumerate(value):
            try:
                converted, size = _value(member, depth + 1)
            except _Refused as exc:
                raise exc.within(f"[{index}]") from None
            items.append(converted)
            total += size + 1
        return items, total
    raise _Refused(f"cannot store a {type(value).__name__}")


def _number(number: Decimal) -> tuple[Decimal, int]:
    if not number.is_finite():
        raise _Refused(f"{number} is not a number DynamoDB can store")
    if not number:
        return Decimal(0), 1  # DynamoDB keeps neither sign nor scale of a zero
    sign, digits, exponent = number.as_tuple()
    kept = len(digits)
    while digits[kept - 1] == 0:  # trailing zeros are not significant (no leading ones here)
        kept -= 1
    if kept > MAX_DIGITS:
        raise _Refused(f"number has {kept} significant digits; DynamoDB keeps 38")
    if not MIN_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        raise _Refused(f"{number} is out of DynamoDB's range (1E-130 to 9.9E+125)")
    if len(digits) > MAX_DIGITS:  # trailing zeros past 38 digits: boto3 would call it inexact
        number = Decimal((sign, digits[:kept], int(exponent) + len(digits) - kept))
    try:
        return _BOTO3.create_decimal(number), (kept + 1) // 2 + 1
    except DecimalException:  # 38 digits do not fit near 1E-130, where precision thins out
        raise _Refused(f"{number} cannot be stored exactly") from None
