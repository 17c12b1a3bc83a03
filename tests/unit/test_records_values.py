"""One row → one DynamoDB item (``bucketsync.sinks.records.values``).

* Types without loss: floats as the Decimal of their repr, big integers exact, nesting kept.
* What DynamoDB refuses is a RowValueError naming the attribute: NaN and infinities, more than
  38 digits, numbers out of range, empty or missing keys, names, depth, the 400 KB limit.
* ``item_size`` follows DynamoDB's sizing rules.
* Properties (hypothesis): every item ``to_item`` returns is one boto3 can serialize.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeSerializer
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bucketsync.errors import BucketSyncError, RowValueError
from bucketsync.sinks.records import values
from bucketsync.sinks.records.values import (
    MAX_ITEM_BYTES,
    convert,
    item_size,
    to_item,
)


def refused(value: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(RowValueError) as caught:
        to_item(value, **kwargs)
    return str(caught.value)


# --- conversion ------------------------------------------------------------------------------


def test_values_keep_their_types_and_digits() -> None:
    # GIVEN a row with every JSON type, a float, a big int and nesting
    row = {
        "f": 0.1,
        "g": 1e-7,
        "big": 10**37 + 1,
        "d": Decimal("1.50"),
        "s": "",
        "b": True,
        "n": None,
        "bin": bytearray(b"\x00\x01"),
        "nested": {"list": [1, "two", [3.5], {}], "map": OrderedDict(k="v")},
        "tuple": (1, 2),
    }
    # WHEN it becomes an item
    item = to_item(row)
    # THEN numbers are Decimal with the digits written, the rest is plain and complete
    assert item == {
        "f": Decimal("0.1"),
        "g": Decimal("1e-7"),
        "big": Decimal(10**37 + 1),
        "d": Decimal("1.50"),
        "s": "",
        "b": True,
        "n": None,
        "bin": b"\x00\x01",
        "nested": {"list": [Decimal(1), "two", [Decimal("3.5")], {}], "map": {"k": "v"}},
        "tuple": [Decimal(1), Decimal(2)],
    }
    assert str(item["f"]) == "0.1" and str(item["g"]) == "1E-7"
    assert type(item["nested"]["map"]) is dict and type(item["bin"]) is bytes
    assert item["b"] is True


def test_the_row_is_not_changed() -> None:
    row = {"a": [1.5], "m": {"x": 1}}
    to_item(row)
    assert row == {"a": [1.5], "m": {"x": 1}}


def test_trailing_zeros_past_38_digits_are_dropped_not_refused() -> None:
    # 10**50 has one significant digit; boto3 would call its 51-digit form inexact.
    item = to_item({"a": 10**50, "b": Decimal("1." + "0" * 45)})
    assert item == {"a": Decimal("1E+50"), "b": Decimal(1)}
    TypeSerializer().serialize(item)


def test_zeros_lose_sign_and_scale_like_dynamodb() -> None:
    assert to_item({"a": -0.0, "b": Decimal("0E+500"), "c": 0}) == {
        "a": Decimal(0),
        "b": Decimal(0),
        "c": Decimal(0),
    }


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"a": math.nan}, "a: nan is not a number DynamoDB can store"),
        ({"a": math.inf}, "a: inf is not a number DynamoDB can store"),
        ({"a": [-math.inf]}, "a[0]: -inf is not a number DynamoDB can store"),
        ({"a": Decimal("NaN")}, "a: NaN is not a number DynamoDB can store"),
        ({"a": {"b": Decimal("-Infinity")}}, "a.b: -Infinity is not a number"),
        ({"a": Decimal("sNaN")}, "a: sNaN is not a number"),
        ({"n": 10**44 + 1}, "n: number has 45 significant digits; DynamoDB keeps 38"),
        ({"n": Decimal("1." + "1" * 38)}, "n: number has 39 significant digits"),
        ({"n": Decimal("1E+126")}, "n: 1E+126 is out of DynamoDB's range"),
        ({"n": Decimal("-1E-131")}, "n: -1E-131 is out of DynamoDB's range"),
        ({"": 1}, "an attribute name is empty"),
        ({"m": {"": 1}}, "m: an attribute name is empty"),
        ({"m": {1: "x"}}, "m: names must be strings, not int"),
        ({"s": "\ud800"}, "s: string is not valid Unicode"),
        ({"\udcff": 1}, "a name is not valid Unicode"),
        ({"when": date(2026, 1, 1)}, "when: cannot store a date"),
        ({"tags": {"a", "b"}}, "tags: cannot store a set"),
    ],
)
def test_values_dynamodb_cannot_store_are_refused_naming_the_attribute(
    row: dict[str, Any], message: str
) -> None:
    assert refused(row).startswith(message)


def test_the_extremes_of_dynamodbs_range_are_kept() -> None:
    item = to_item(
        {
            "max": Decimal("9." + "9" * 37 + "E+125"),
            "min": Decimal("1E-130"),
            "neg": Decimal("-1E-130"),
            "digits": Decimal("1" * 38),
        }
    )
    TypeSerializer().serialize(item)


def test_numbers_too_fine_for_38_digits_near_the_bottom_are_refused() -> None:
    assert "cannot be stored exactly" in refused({"n": Decimal("1." + "1" * 37 + "E-129")})


def test_nesting_past_32_levels_is_refused() -> None:
    deep: Any = "leaf"
    for _ in range(32):
        deep = [deep]
    to_item({"ok": deep})
    assert "nested deeper than DynamoDB's 32 levels" in refused({"no": [deep]})


def test_a_name_over_64_kb_is_refused() -> None:
    assert "the limit is 64 KB" in refused({"x" * 65_536: 1})


def test_an_item_over_400_kb_is_refused_with_its_size() -> None:
    # GIVEN an item exactly at the limit, and one byte over
    at_limit = {"a": "x" * (MAX_ITEM_BYTES - 1)}
    assert item_size(at_limit) == MAX_ITEM_BYTES
    to_item(at_limit)
    # THEN the larger one is refused, and the message says by how much
    assert refused({"ab": "x" * (MAX_ITEM_BYTES - 1)}) == (
        "item is 409,601 bytes; DynamoDB's limit is 400 KB"
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({}, "key attribute 'id' is missing"),
        ({"id": ""}, "key attribute 'id' is empty"),
        ({"id": b""}, "key attribute 'id' is empty"),
        ({"id": [1]}, "key attribute 'id' must be a string, number or binary, not list"),
        ({"id": {"a": 1}}, "key attribute 'id' must be a string, number or binary, not map"),
        ({"id": None}, "key attribute 'id' must be a string, number or binary, not null"),
        ({"id": True}, "key attribute 'id' must be a string, number or binary, not boolean"),
    ],
)
def test_key_attributes_must_be_present_non_empty_scalars(
    row: dict[str, Any], message: str
) -> None:
    assert refused(row, key_attributes=["id"]) == message


def test_good_key_attributes_pass() -> None:
    item = to_item({"id": 0, "sk": "a", "bin": b"\x01"}, key_attributes=("id", "sk", "bin"))
    assert item == {"id": Decimal(0), "sk": "a", "bin": b"\x01"}


def test_row_value_error_is_a_value_error_and_one_of_ours() -> None:
    assert issubclass(RowValueError, ValueError) and issubclass(RowValueError, BucketSyncError)


# --- sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"a": "abc"}, 1 + 3),
        ({"ü": "✓"}, 2 + 3),  # UTF-8 bytes, names and values
        ({"a": b"\x00\x01"}, 1 + 2),
        ({"a": True, "b": None}, (1 + 1) + (1 + 1)),
        ({"n": Decimal(1)}, 1 + 2),  # (digits + 1) // 2 + 1
        ({"n": Decimal("12.3400")}, 1 + 3),  # trailing zeros do not count
        ({"n": 10**37}, 1 + 2),
        ({"n": Decimal("1" * 38)}, 1 + 20),
        ({"n": 1.5}, 1 + 2),
        ({"l": []}, 1 + 3),
        ({"l": ["ab", Decimal(1)]}, 1 + 3 + (2 + 1) + (2 + 1)),
        ({"m": {"x": Decimal(1)}}, 1 + 3 + (1 + 2 + 1)),
    ],
)
def test_item_size_follows_dynamodbs_rules(item: dict[str, Any], size: int) -> None:
    assert item_size(item) == size


def test_item_size_refuses_what_is_not_an_item_value() -> None:
    with pytest.raises(TypeError):
        item_size({"a": object()})


def test_the_context_is_boto3s() -> None:
    ours = values._BOTO3
    assert (ours.prec, ours.Emin, ours.Emax) == (
        DYNAMODB_CONTEXT.prec,
        DYNAMODB_CONTEXT.Emin,
        DYNAMODB_CONTEXT.Emax,
    )
    assert {t for t, on in ours.traps.items() if on} == {
        t for t, on in DYNAMODB_CONTEXT.traps.items() if on
    }


# --- properties ------------------------------------------------------------------------------

NUMBERS = (
    st.integers()
    | st.floats()
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.builds(
        lambda digits, exp: Decimal(f"{digits}E{exp}"),
        st.integers(1, 10**45),
        st.integers(-180, 160),
    )
)
SCALARS = st.none() | st.booleans() | NUMBERS | st.text(max_size=10) | st.binary(max_size=5)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(row=st.dictionaries(st.text(max_size=6), VALUES, max_size=5))
def test_every_item_returned_is_one_boto3_serializes(row: dict[str, Any]) -> None:
    try:
        item = to_item(row)
    except RowValueError:
        return
    TypeSerializer().serialize(item)
    assert item_size(item) <= MAX_ITEM_BYTES


@settings(max_examples=300, deadline=None)
@given(number=NUMBERS)
def test_a_number_is_kept_exactly_or_refused(number: Any) -> None:
    try:
        item = to_item({"n": number})
    except RowValueError:
        return
    written = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    assert item["n"] == written
    TypeSerializer().serialize(item["n"])


# Mostly storable rows, so the sizes are compared on many items, not on refusals.
STORABLE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**40), 10**40)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | st.text(max_size=10)
    | st.binary(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(min_size=1, max_size=5), inner)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(row=st.dictionaries(st.text(min_size=1, max_size=6), STORABLE, max_size=5))
@example(row={"z": 0, "l": [Decimal("-0E+5"), "é", b"", {"m": None}], "t": True})
def test_convert_measures_the_item_it_returns_as_item_size_does(row: dict[str, Any]) -> None:
    # The loader trusts convert's size instead of walking the item again.
    try:
        item, size = convert(row)
    except RowValueError:
        return
    assert size == item_size(item)
    assert item == to_item(row)
