"""Credentials out of URLs before they are shown or logged: ``bucketsync.redact.url``.

A URL carries secrets in two places: its user info (``https://user:password@host``) and its
query or fragment (``?api_key=``, a presigned URL's ``X-Amz-Signature``, an Azure function's
``code=``, an OAuth ``#access_token=``). ``url`` replaces the password with ``***`` (keeping
the user name, which says which account; a user name alone is masked, as it is a token as
often as not: ``https://<token>@host``) and the value of every parameter whose name looks
secret (``secret_name``). Everything else comes back byte for byte, so a URL without
credentials is returned unchanged and the shown URL still says which endpoint it is.

The URL is split with RFC 3986's own pattern (appendix B), which accepts any string, rather
than ``urlsplit``, which raises on some (``http://[::1``) and whose ``urlunsplit`` does not
give back the text it was given. User info ends at the authority's last ``@`` and the password
starts at its first ``:``, as urllib and http.client read them. A password is expected
percent-encoded, as RFC 3986 requires: a raw ``/``, ``?`` or ``#`` in it ends the authority
for every parser, this one included.

Standard library only: the forwarding Lambda packages it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, unquote_plus

MASK = "***"

# RFC 3986, appendix B: scheme, authority, path, query, fragment. Every group is optional,
# so any string matches; "?" and "#" are kept apart from empty query and fragment.
_URL = re.compile(r"(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.DOTALL)
_LOOKS_LIKE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")

# A name holding one of these anywhere is secret: they are long enough not to occur by chance
# in an ordinary name (X-Amz-Credential, x-amz-security-token, client_secret, passwd).
_STEMS = (
    "token",
    "secret",
    "passw",
    "signature",
    "credential",
    "apikey",
    "accesskey",
    "privatekey",
)
# These only as whole words (api_key, Sig, sessionKey), not inside monkey, design or author.
_WORDS = frozenset({"key", "sig", "pwd", "pass", "code", "auth", "authorization", "jwt"})


def secret_name(name: str) -> bool:
    """Whether a query parameter called ``name`` (percent-decoded) may hold a secret."""
    lowered = name.lower()
    if any(stem in _NOT_ALNUM.sub("", lowered) for stem in _STEMS):
        return True
    words = _NOT_ALNUM.split(_CAMEL.sub(" ", name).lower())
    return any(word in _WORDS for word in words)


def url(text: str) -> str:
    """``text`` with the password of its user info and its secret parameter values as
    ``***``; otherwise unchanged (see the module's docstring)."""
    match = _URL.fullmatch(text)
    if match is None:  # unreachable: every part of the pattern is optional
        return text
    scheme, authority, path, query, fragment = match.groups()
    shown = f"{scheme}:" if scheme is not None else ""
    if authority is not None:
        shown += "//" + _authority(authority)
    shown += path
    if query is not None:
        shown += "?" + _parameters(query)
    if fragment is not None:
        shown += "#" + _parameters(fragment)
    return shown


def hidden_in(text: str) -> list[str]:
    """What ``url`` hides in ``text`` (the password or lone user name, the secret parameters'
    values), each as written and percent-decoded, longest first: to scrub them out of other
    text that may echo them, such as an error page quoting the URL it was asked for."""
    match = _URL.fullmatch(text)
    if match is None:  # unreachable: every part of the pattern is optional
        return []
    _scheme, authority, _path, query, fragment = match.groups()
    found: set[str] = set()
    userinfo, at, _host = (authority or "").rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        found.add(password if colon else user)
    for part in (query, fragment):
        for field in re.split(r"[&;]", part or ""):
            name, equals, value = field.partition("=")
            if equals and value and secret_name(unquote_plus(name)):
                found.add(value)
    found |= {decode(value) for value in found for decode in (unquote, unquote_plus)}
    return sorted(found - {""}, key=lambda value: (-len(value), value))


def urls_in(value: Any) -> Any:
    """``value`` (JSON-like: strings, lists, dicts) with every string that starts like a URL
    (``scheme://``) passed through ``url``; whatever else it holds is returned as it is."""
    if isinstance(value, str):
        return url(value) if _LOOKS_LIKE_URL.match(value) else value
    if isinstance(value, list):
        return [urls_in(item) for item in value]
    if isinstance(value, dict):
        return {key: urls_in(item) for key, item in value.items()}
    return value


def _authority(authority: str) -> str:
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return authority
    user, colon, _password = userinfo.partition(":")
    return f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"


def _parameters(query: str) -> str:
    # ";" separates too for some servers: splitting on it hides more, never less.
    fields = re.split(r"([&;])", query)
    for index in range(0, len(fields), 2):  # odd indexes are the separators themselves
        name, equals, value = fields[index].partition("=")
        if equals and value and secret_name(unquote_plus(name)):
            fields[index] = f"{name}={MASK}"
    return "".join(fields)
