"""The forwarder's HMAC signature: what it signs, and what the service refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bucketsync.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, sign, verify

NOW = 1_800_000_000.0


@given(secret=st.text(min_size=1), body=st.binary())
def test_a_signed_body_verifies(secret: str, body: bytes) -> None:
    verify(secret, sign(secret, body, now=NOW), body, now=NOW)


def test_header_names_are_case_insensitive() -> None:
    headers = {k.lower(): v for k, v in sign("s", b"{}", now=NOW).items()}
    verify("s", headers, b"{}", now=NOW)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h, b: (h, b + b" "), "does not match"),  # body altered
        (lambda h, b: ({**h, TIMESTAMP_HEADER: str(int(NOW) + 1)}, b), "does not match"),
        (lambda h, b: ({TIMESTAMP_HEADER: h[TIMESTAMP_HEADER]}, b), "missing"),
        (lambda h, b: ({**h, TIMESTAMP_HEADER: "soon"}, b), "Unix time"),
    ],
)
def test_a_tampered_request_is_refused(change: object, reason: str) -> None:
    headers, body = change(sign("secret", b'{"a": 1}', now=NOW), b'{"a": 1}')  # type: ignore[operator]
    with pytest.raises(SignatureError, match=reason):
        verify("secret", headers, body, now=NOW)


def test_another_secret_or_an_old_request_is_refused() -> None:
    headers = sign("secret", b"x", now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify("other", headers, b"x", now=NOW)
    with pytest.raises(SignatureError, match="away from now"):
        verify("secret", headers, b"x", now=NOW + 301)
    verify("secret", headers, b"x", now=NOW + 299)


def test_any_of_several_signatures_may_match_during_a_rotation() -> None:
    old, new = sign("old", b"x", now=NOW), sign("new", b"x", now=NOW)
    both = {**new, SIGNATURE_HEADER: f"{old[SIGNATURE_HEADER]}, {new[SIGNATURE_HEADER]}"}
    verify("old", both, b"x", now=NOW)
    verify("new", both, b"x", now=NOW)
