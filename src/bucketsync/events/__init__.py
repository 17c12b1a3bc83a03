"""S3 event parsing: every notification envelope in, one normalised :class:`Change` list out.

Anything that cannot be parsed raises :class:`MalformedEventError` (with the path of the
offending field) and nothing else, so callers can dead-letter it without guessing.
"""

from __future__ import annotations

from bucketsync.errors import MalformedEventError
from bucketsync.events.envelopes import parse_message, parse_payload
from bucketsync.events.model import Change, ChangeKind

__all__ = ["Change", "ChangeKind", "MalformedEventError", "parse_message", "parse_payload"]
