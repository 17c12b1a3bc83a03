"""``parse_s3_uri``: what it takes apart, what it refuses, and never a shifted key."""

from __future__ import annotations

import pytest
import typer

from bucketsync.cli.common import parse_s3_uri

# --- parse_s3_uri ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/key", ("bucket", "key")),
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket/a/b/", ("bucket", "a/b/")),
        ("s3://bucket/a/b/c.txt", ("bucket", "a/b/c.txt")),
        ("s3://my.bucket-1/k", ("my.bucket-1", "k")),
        ("s3://bucket/with space.txt", ("bucket", "with space.txt")),
        ("s3://bucket/a+b.txt", ("bucket", "a+b.txt")),  # '+' is not a space
        ("s3://bucket/a%20b.txt", ("bucket", "a%20b.txt")),  # no percent-decoding
        ("s3://bucket/ünïcødé €.txt", ("bucket", "ünïcødé €.txt")),
        ("s3://bucket/a#b", ("bucket", "a#b")),  # '#' is part of the key, not a fragment
        ("s3://bucket/a?b=c", ("bucket", "a?b=c")),  # '?' is part of the key, not a query
        ("s3://bucket/#", ("bucket", "#")),
        ("s3://bucket/?", ("bucket", "?")),
        ("s3://bucket/x?y#z?w", ("bucket", "x?y#z?w")),
        ("s3://bucket/a;b", ("bucket", "a;b")),
        ("s3://bucket//leading-slash", ("bucket", "/leading-slash")),
        ("s3://bucket/trailing space ", ("bucket", "trailing space ")),
    ],
)
def test_parse_s3_uri(uri: str, expected: tuple[str, str]) -> None:
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "http://x",
        "https://bucket.s3.amazonaws.com/key",
        "s3://",
        "s3:///key",
        "s3:/bucket/key",
        "s3:bucket/key",
        "bucket/key",
        "/local/path",
        "file:///tmp/x",
    ],
)
def test_parse_s3_uri_refuses_what_is_not_an_s3_uri(uri: str) -> None:
    with pytest.raises(typer.BadParameter, match="expected s3://bucket/key"):
        parse_s3_uri(uri)


@pytest.mark.parametrize(
    ("uri", "unshifted"),
    [
        (" s3://bucket/key", ("bucket", "key")),
        ("\ns3://bucket/key", ("bucket", "key")),
        ("s3://buc\tket/key", ("buc\tket", "key")),
    ],
)
def test_parse_s3_uri_never_returns_a_shifted_key(uri: str, unshifted: tuple[str, str]) -> None:
    try:
        parsed = parse_s3_uri(uri)
    except typer.BadParameter:
        return  # refusing is fine
    assert parsed == unshifted
