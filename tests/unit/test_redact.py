"""``bucketsync.redact.url``: credentials in URLs never shown; and where URLs are shown
(``Settings.redacted()``, ``bucketsync config``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from typer.testing import CliRunner

from bucketsync import redact
from bucketsync.cli import app
from bucketsync.settings import Settings

PASSWORD = "Pw-7c1e9a55d0"
KEY = "K-51f0aa93be"
SIG = "S-d2b87e0c14"
TOKEN = "tok-3f9a2c7e51d84b06"
# One URL per URL-valued setting, each with a password and/or secret query values.
URLS: dict[str, Any] = {
    "api_endpoint": f"https://hook:{PASSWORD}@sync.example.com/base/?api_key={KEY}&region=eu",
    "endpoint_url": f"http://admin:{PASSWORD}@127.0.0.1:5000/?X-Amz-Signature={SIG}",
    "queue_url": f"https://sqs.eu-west-1.amazonaws.com/123456789012/q?access_token={KEY}",
    "reconcile_queue_url": f"https://sqs.example.com/1/r?X-Amz-Security-Token={SIG}&Sig={KEY}",
}
SECRETS = (PASSWORD, KEY, SIG, TOKEN)


@pytest.mark.parametrize(
    ("given_url", "shown"),
    [
        (
            f"https://user:{PASSWORD}@host/?api_key={KEY}",
            "https://user:***@host/?api_key=***",
        ),
        (f"https://user:{PASSWORD}@host:8443/p", "https://user:***@host:8443/p"),
        # urllib splits user info at the last @ and the password at the first colon.
        ("https://u:p@ss:w@host/", "https://u:***@host/"),
        # A lone user name is a token as often as not (https://<token>@host): masked too.
        (f"https://{TOKEN}@host/x", "https://***@host/x"),
        (
            f"https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
            f"AKIA%2F20260101&X-Amz-Signature={SIG}&x-amz-security-token={KEY}&X-Amz-Expires=60",
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***"
            "&X-Amz-Signature=***&x-amz-security-token=***&X-Amz-Expires=60",
        ),
        (
            f"https://h/?TOKEN={KEY}&Secret={KEY}&password={KEY}&sig={KEY}&apiKey={KEY}",
            "https://h/?TOKEN=***&Secret=***&password=***&sig=***&apiKey=***",
        ),
        # An Azure function key (code=), a name percent-encoded, a ';' separator.
        (
            f"https://f.azurewebsites.net/api/h?code={KEY}&api%5Fkey={KEY}&a=1;token={KEY}",
            "https://f.azurewebsites.net/api/h?code=***&api%5Fkey=***&a=1;token=***",
        ),
        # An OAuth implicit-flow fragment.
        (f"https://h/cb#access_token={KEY}&state=1", "https://h/cb#access_token=***&state=1"),
        # A secret name without a value hides nothing.
        ("https://h/?token&key=", "https://h/?token&key="),
    ],
)
def test_credentials_are_replaced_and_nothing_else_changes(given_url: str, shown: str) -> None:
    assert redact.url(given_url) == shown


@pytest.mark.parametrize(
    "plain",
    [
        "https://sqs.eu-west-1.amazonaws.com/123456789012/bucketsync-queue",
        "http://127.0.0.1:5000",
        "http://[::1]:8080/a%20b/?prefix=x&b=2&a=1&b=3#frag",
        "https://host/?monkey=1&keyboard=2&author=3&design=4&passage=5",
        "https://h?",
        "https://h/#",
        "s3://bucket/key with spaces",
        "http://[::1/broken",
        "not a url at all: a@b",
        "",
    ],
)
def test_a_url_without_credentials_is_returned_unchanged(plain: str) -> None:
    assert redact.url(plain) == plain


# --- properties -------------------------------------------------------------------------------

# Secrets are drawn from upper-case letters and digits, every other part of the URL from
# lower-case letters: a secret found in the output can only be a leak, never a coincidence.
_SECRET = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ23456789-._~%", min_size=6, max_size=24).map(
    lambda s: "Q" + s
)
_WORD = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10)
_SECRET_NAMES = st.sampled_from(
    [
        "token",
        "key",
        "secret",
        "signature",
        "password",
        "sig",
        "api_key",
        "access_token",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "Api-Key",
        "clientSecret",
        "ACCESS_TOKEN",
    ]
)
_PLAIN_NAMES = _WORD.filter(lambda name: not redact.secret_name(name))


@st.composite
def _urls(draw: st.DrawFn, *, with_credentials: bool) -> tuple[str, list[str]]:
    """A URL and the secrets in it (none when ``with_credentials`` is false)."""
    secrets: list[str] = []
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(st.sampled_from(["h", "sync.example.com", "127.0.0.1", "[::1]"]))
    port = draw(st.sampled_from(["", ":8443"]))
    userinfo = ""
    if with_credentials and draw(st.booleans()):
        password = draw(_SECRET)
        secrets.append(password)
        userinfo = f"{draw(_WORD)}:{password}@"
    path = "/".join(draw(st.lists(_WORD, max_size=3)))
    fields = []
    for _ in range(draw(st.integers(0, 4))):
        if with_credentials and draw(st.booleans()):
            value = draw(_SECRET)
            secrets.append(value)
            fields.append(f"{draw(_SECRET_NAMES)}={value}")
        else:
            fields.append(f"{draw(_PLAIN_NAMES)}={draw(_WORD)}")
    bare_question_mark = not fields and draw(st.booleans())
    query = ("?" + "&".join(fields)) if fields or bare_question_mark else ""
    return f"{scheme}://{userinfo}{host}{port}/{path}{query}", secrets


@given(_urls(with_credentials=True))
def test_the_password_and_secret_values_never_come_back(case: tuple[str, list[str]]) -> None:
    given_url, secrets = case
    shown = redact.url(given_url)
    for secret in secrets:
        assert secret not in shown
    # hidden_in names each of them, for scrubbing text that quotes the URL.
    assert set(secrets) <= set(redact.hidden_in(given_url))


@given(_urls(with_credentials=False))
def test_a_generated_url_without_credentials_is_unchanged(case: tuple[str, list[str]]) -> None:
    given_url, _ = case
    assert redact.url(given_url) == given_url
    assert redact.hidden_in(given_url) == []


def test_hidden_in_names_each_credential_as_written_and_decoded_longest_first() -> None:
    given_url = f"https://u:{PASSWORD}%21@h/?api_key={KEY}&sig=a+b%2Bc&region=eu#token={SIG}"
    assert redact.hidden_in(given_url) == sorted(
        {PASSWORD + "%21", PASSWORD + "!", KEY, SIG, "a+b%2Bc", "a+b+c", "a b+c"},
        key=lambda value: (-len(value), value),
    )
    assert redact.hidden_in(f"https://{TOKEN}@h/") == [TOKEN]


@given(st.text())
def test_any_text_is_handled_and_redacting_twice_changes_nothing_more(text: str) -> None:
    once = redact.url(text)
    assert redact.url(once) == once


@given(_WORD, _WORD)
def test_names_made_of_secret_words_are_secret(prefix: str, suffix: str) -> None:
    for word in ("token", "key", "secret", "signature", "password", "sig"):
        assert redact.secret_name(f"{prefix}_{word}")
        assert redact.secret_name(f"{word}-{suffix}")


# --- where URLs are shown --------------------------------------------------------------------


def _assert_hidden(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_settings_redacted_hides_credentials_in_every_url_and_keeps_the_rest() -> None:
    settings = Settings(**URLS, api_token=SecretStr(TOKEN))
    shown = settings.redacted()
    _assert_hidden(repr(shown))
    assert shown["api_endpoint"] == "https://hook:***@sync.example.com/base/?api_key=***&region=eu"
    assert shown["endpoint_url"] == "http://admin:***@127.0.0.1:5000/?X-Amz-Signature=***"
    assert shown["queue_url"].endswith("/123456789012/q?access_token=***")
    assert shown["reconcile_queue_url"].endswith("?X-Amz-Security-Token=***&Sig=***")
    assert shown["api_token"] == "**********"
    assert shown["region"] == "us-east-1"


def test_settings_redacted_leaves_urls_without_credentials_alone() -> None:
    queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"
    shown = Settings(queue_url=queue, endpoint_url="http://127.0.0.1:5000").redacted()
    assert (shown["queue_url"], shown["endpoint_url"]) == (queue, "http://127.0.0.1:5000")


def test_bucketsync_config_hides_credentials_in_urls() -> None:
    env: dict[str, str | None] = {"COLUMNS": "300", "FORCE_COLOR": None, "TTY_COMPATIBLE": None}
    env |= {f"BUCKETSYNC_{name.upper()}": value for name, value in URLS.items()}
    env["BUCKETSYNC_API_TOKEN"] = TOKEN
    result = CliRunner().invoke(app, ["config"], env=env)
    assert result.exit_code == 0, result.output
    _assert_hidden(result.output)
    assert "https://hook:***@sync.example.com/base/?api_key=***&region=eu" in result.output
