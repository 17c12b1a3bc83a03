"""Fuzzing the event parsers (issue 15): MalformedEventError or valid changes, nothing else,
for whole payloads (``event_fuzzing.py`` has the oracle and the envelope grammar,
``event_mutations.py`` the structural mutations).

* golden and grammar payloads mutated many ways at once, parsed decoded, as text and as bytes;
* their bytes are mutated (flips, truncation, splices, NaN, BOMs, invalid UTF-8);
* JSON text nested deeply wherever text is carried;
* oracles: the grammar's payloads give exactly the changes built into them (refused only when
  nested past ``MAX_DEPTH``).
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import example, given
from hypothesis import strategies as st

from bucketsync.events import MalformedEventError, parse_message, parse_payload
from bucketsync.events.envelopes import MAX_DEPTH
from tests.unit.event_fuzzing import (
    Expected,
    fuzz,
    grammar,
    message_outcome,
    outcome,
    parse_every_way,
    same,
)
from tests.unit.event_mutations import GOLDEN, GOLDEN_TEXTS, mutated

# --- the tests -------------------------------------------------------------------------------


@fuzz(150)
@given(grammar())
def test_payloads_built_from_the_envelope_grammar_give_exactly_their_changes(
    built: tuple[object, Expected, int],
) -> None:
    # GIVEN a payload of envelopes nested in any order, as deep as MAX_DEPTH and past it
    payload, expected, peels = built
    # WHEN it is parsed, decoded, as text and as bytes
    result = parse_every_way(payload)
    # THEN it gives the changes built into it, keys decoded once, refused only when too deep
    if peels > MAX_DEPTH:
        assert isinstance(result, MalformedEventError)
        assert "nested more than" in result.reason
    else:
        assert not isinstance(result, MalformedEventError), result
        assert [(c.bucket, c.key, c.kind) for c in result] == expected


@fuzz(300)
@given(st.data(), st.sampled_from(sorted(GOLDEN)))
def test_golden_payloads_mutated_many_ways_at_once_are_parsed_or_refused_cleanly(
    data: st.DataObject, name: str
) -> None:
    # GIVEN a golden payload with up to six structural mutations anywhere, in carried JSON too
    event = data.draw(mutated(GOLDEN[name]), label="event")
    # WHEN it is parsed decoded, as text and as bytes
    # THEN valid changes or MalformedEventError, the same every way
    parse_every_way(event)


@fuzz(150)
@given(st.data(), grammar())
def test_grammar_payloads_mutated_are_parsed_or_refused_cleanly(
    data: st.DataObject, built: tuple[object, Expected, int]
) -> None:
    # GIVEN a payload from the envelope grammar, mutated
    event = data.draw(mutated(built[0]), label="event")
    # WHEN it is parsed
    # THEN valid changes or MalformedEventError, the same every way
    parse_every_way(event)


BYTE_TOKENS = [
    b"NaN",
    b"-Infinity",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"\\ud800",
    b"\\",
    b'"',
    b",",
    b"}",
    b"]",
    b"{",
    b"[" * 3000,
    b"9" * 4301,
    b"1e999",
    b"\x00",
    b"%",
    b"+",
]


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(GOLDEN_TEXTS).encode())
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(data)))
        what = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice"]))
        if what == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif what == "insert":
            data[at:at] = draw(st.sampled_from(BYTE_TOKENS) | st.binary(min_size=1, max_size=4))
        elif what == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif what == "truncate":
            del data[at:]
        elif what == "splice":
            other = draw(GOLDEN_TEXTS).encode()
            start = draw(st.integers(0, len(other)))
            data[at:] = other[start:]
    encoding = draw(st.sampled_from(["raw", "raw", "raw", "utf-16", "utf-8-sig", "latin-1"]))
    if encoding == "raw":
        return bytes(data)
    return bytes(data).decode("utf-8", "replace").encode(encoding, "replace")


@fuzz(400)
@given(mutated_bytes())
@example(b'{"Records": [{"eventSource": "aws:sqs", "body": "' + b"[" * 100_000 + b'"}]}')
@example(b'{"Type": "Notification", "Message": "{\\"Records\\": [NaN]}"}')
def test_golden_bodies_with_mutated_bytes_are_parsed_or_refused_cleanly(body: bytes) -> None:
    # GIVEN a golden message body with bytes flipped, inserted, deleted, truncated, spliced
    # WHEN it is parsed as bytes and, if it is UTF-8, as text
    result = message_outcome(body)
    # THEN valid changes or MalformedEventError, the same both ways
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        assert isinstance(result, MalformedEventError)
        return
    assert same(message_outcome(text), result)


@fuzz(60)
@given(
    depth=st.integers(1, 200_000),
    opener=st.sampled_from(["[", '{"a":', '{"Records":', '["', "{"]),
    place=st.sampled_from(["body", "sqs", "sns", "lambda_sns"]),
)
@example(depth=100_000, opener="[", place="sns")
def test_json_text_nested_deeply_is_refused_wherever_text_is_carried(
    depth: int, opener: str, place: str
) -> None:
    # GIVEN JSON text nested ``depth`` deep, as a body or carried by SQS or SNS
    text = opener * depth
    carriers: dict[str, Callable[[str], object]] = {
        "sqs": lambda t: {"Records": [{"eventSource": "aws:sqs", "body": t}]},
        "sns": lambda t: {"Type": "Notification", "Message": t},
        "lambda_sns": lambda t: {
            "Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": t}}]
        },
    }
    # WHEN it is parsed
    if place == "body":
        result = outcome(lambda: parse_message(text))
    else:
        result = outcome(lambda: parse_payload(carriers[place](text)))
    # THEN MalformedEventError (never RecursionError or a crash)
    assert isinstance(result, MalformedEventError)
