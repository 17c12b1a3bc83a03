"""The forwarder's HMAC signature: what it signs, and what the service refuses."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bucketsync.errors import SignatureError
from bucketsync.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    canonical_query,
    canonical_request,
    sign,
    target,
    verify,
)

NOW = 1_800_000_000.0
SECRET = "secret"
BODY = b'{"a": 1}'
# A request as the service sees it: method, percent-decoded path, raw query, body.
REQUEST: dict[str, Any] = {
    "method": "POST",
    "path": "/api/v1/sync",
    "query": "prefix=a/&background=false",
}


def signed(secret: str = SECRET, body: bytes = BODY, **request: Any) -> dict[str, str]:
    return sign(secret, body, **(REQUEST | request), now=NOW)


def test_a_signed_request_verifies() -> None:
    verify(SECRET, signed(), BODY, **REQUEST, now=NOW)


def test_the_signature_is_hmac_sha256_of_the_documented_canonical_string() -> None:
    # The exact bytes: the forwarder and any other client must be able to reproduce them.
    headers = sign("k", b"{}", method="post", path="/p/a b/é", query="z=1&a=x+y&a=%7E&b", now=NOW)
    message = b"1800000000\nPOST\n/p/a%20b/%C3%A9\na=x%20y&a=~&b=&z=1\n{}"
    assert canonical_request("1800000000", "post", "/p/a b/é", "z=1&a=x+y&a=%7E&b", b"{}") == (
        message
    )
    digest = hmac.new(b"k", message, hashlib.sha256).hexdigest()
    assert headers == {TIMESTAMP_HEADER: "1800000000", SIGNATURE_HEADER: f"v2={digest}"}


def test_header_names_are_case_insensitive() -> None:
    headers = {k.lower(): v for k, v in signed().items()}
    verify(SECRET, headers, BODY, **REQUEST, now=NOW)


@pytest.mark.parametrize(
    ("component", "value"),
    [
        ("method", "PUT"),
        ("path", "/api/v1/s3-notification"),
        ("path", "/prefix/api/v1/sync"),
        ("query", "prefix=b/&background=false"),
        ("query", "prefix=a/&background=true"),
        ("query", "prefix=a/"),
        ("query", ""),
        ("body", b'{"a": 2}'),
        ("body", b""),
    ],
)
def test_changing_any_signed_component_is_refused(component: str, value: object) -> None:
    changed: dict[str, Any] = {**REQUEST, "body": BODY, component: value}
    body = changed.pop("body")
    with pytest.raises(SignatureError, match="does not match the request"):
        verify(SECRET, signed(), body, **changed, now=NOW)


Change = Callable[[dict[str, str]], dict[str, str]]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: {**h, TIMESTAMP_HEADER: str(int(NOW) + 1)}, "does not match"),
        (lambda h: {TIMESTAMP_HEADER: h[TIMESTAMP_HEADER]}, "missing"),
        (lambda h: {**h, TIMESTAMP_HEADER: "soon"}, "Unix time"),
        (lambda h: {**h, TIMESTAMP_HEADER: f" {h[TIMESTAMP_HEADER]}"}, "Unix time"),
        (lambda h: {**h, TIMESTAMP_HEADER: "9" * 5000}, "Unix time"),
        (lambda h: {**h, SIGNATURE_HEADER: h[SIGNATURE_HEADER][:-1] + "0"}, "does not match"),
    ],
)
def test_a_tampered_timestamp_or_signature_is_refused(change: Change, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify(SECRET, change(signed()), BODY, **REQUEST, now=NOW + 1)


def test_another_secret_or_an_old_request_is_refused() -> None:
    headers = signed()
    with pytest.raises(SignatureError, match="does not match"):
        verify("other", headers, BODY, **REQUEST, now=NOW)
    with pytest.raises(SignatureError, match="away from now"):
        verify(SECRET, headers, BODY, **REQUEST, now=NOW + 301)
    with pytest.raises(SignatureError, match="away from now"):
        verify(SECRET, headers, BODY, **REQUEST, now=NOW - 301)
    verify(SECRET, headers, BODY, **REQUEST, now=NOW + 299)


def test_any_of_several_signatures_may_match_during_a_rotation() -> None:
    old, new = signed("old"), signed("new")
    both = {**new, SIGNATURE_HEADER: f"{old[SIGNATURE_HEADER]}, {new[SIGNATURE_HEADER]}"}
    verify("old", both, BODY, **REQUEST, now=NOW)
    verify("new", both, BODY, **REQUEST, now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify("neither", both, BODY, **REQUEST, now=NOW)


def v1_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The retired scheme: timestamp and body only."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"v1={digest.hexdigest()}"


def test_a_v1_signature_is_refused_with_a_message_that_says_so() -> None:
    timestamp = str(int(NOW))
    headers = {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: v1_signature(SECRET, timestamp, BODY)}
    with pytest.raises(
        SignatureError, match=r"^signature version v1 is not accepted; sign with v2$"
    ):
        verify(SECRET, headers, BODY, **REQUEST, now=NOW)
    # A v1 alongside a valid v2 (a sender in transition) passes on the v2 one.
    both = {
        **signed(),
        SIGNATURE_HEADER: f"{headers[SIGNATURE_HEADER]},{signed()[SIGNATURE_HEADER]}",
    }
    verify(SECRET, both, BODY, **REQUEST, now=NOW)


def test_a_signature_without_a_version_is_refused_without_echoing_it() -> None:
    headers = {**signed(), SIGNATURE_HEADER: "<script>=1"}
    with pytest.raises(SignatureError, match=r"version \(unrecognised\) is not accepted"):
        verify(SECRET, headers, BODY, **REQUEST, now=NOW)


def test_a_method_that_is_not_a_token_cannot_be_signed() -> None:
    with pytest.raises(ValueError, match="not an HTTP method"):
        sign(SECRET, BODY, method="POST\n/other", path="/", now=NOW)
    with pytest.raises(SignatureError, match="not an HTTP method"):
        verify(SECRET, signed(), BODY, method="PO ST", path="/", query="", now=NOW)


@pytest.mark.parametrize(
    ("sent", "received"),
    [
        # a client or proxy may encode the same parameters another way, or reorder them
        ("prefix=a/&background=false", "background=false&prefix=a%2F"),
        ("prefix=a%20b", "prefix=a+b"),
        ("prefix=%7Ex", "prefix=~x"),
        ("flag", "flag="),
    ],
)
def test_the_query_is_canonical_so_re_encoding_it_does_not_break_the_signature(
    sent: str, received: str
) -> None:
    assert canonical_query(sent) == canonical_query(received)
    headers = signed(query=sent)
    verify(SECRET, headers, BODY, **(REQUEST | {"query": received}), now=NOW)


def test_target_gives_the_decoded_path_and_the_raw_query() -> None:
    assert target("https://h.example:8443/hook%20s/api/v1/sync?prefix=a%2Fb&x=1#frag") == (
        "/hook s/api/v1/sync",
        "prefix=a%2Fb&x=1",
    )
    assert target("/api/v1/sync") == ("/api/v1/sync", "")
    assert target("http://h.example") == ("/", "")


# --- properties ---------------------------------------------------------------------------------

methods = st.sampled_from(["POST", "PUT", "GET", "DELETE", "PATCH"])
paths = st.lists(st.text(min_size=1, max_size=8), max_size=4).map(
    lambda parts: "/" + "/".join(parts)
)
queries = st.lists(st.tuples(st.text(min_size=1, max_size=6), st.text(max_size=6)), max_size=4).map(
    lambda pairs: "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "method": draw(methods),
        "path": draw(paths),
        "query": draw(queries),
        "body": draw(st.binary(max_size=64)),
    }


@given(secret=st.text(min_size=1), request=requests())
def test_a_signature_verifies_for_its_own_request(secret: str, request: dict[str, Any]) -> None:
    body = request.pop("body")
    verify(secret, sign(secret, body, **request, now=NOW), body, **request, now=NOW)


@given(
    secret=st.text(min_size=1),
    request=requests(),
    component=st.sampled_from(["method", "path", "query", "body"]),
    other=requests(),
)
def test_a_signature_fails_when_any_one_component_changes(
    secret: str, request: dict[str, Any], component: str, other: dict[str, Any]
) -> None:
    changed = request | {component: other[component]}
    if component == "query":
        # Only a change the service would see: the same pairs in another order are the same.
        assume(canonical_query(changed["query"]) != canonical_query(request["query"]))
    else:
        assume(changed[component] != request[component])
    headers = sign(
        secret,
        request["body"],
        method=request["method"],
        path=request["path"],
        query=request["query"],
        now=NOW,
    )
    body = changed.pop("body")
    with pytest.raises(SignatureError, match="does not match"):
        verify(secret, headers, body, **changed, now=NOW)
