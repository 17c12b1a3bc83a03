"""Fuzzing the records formats (issue 15): lines near ``max_row_bytes``
(``records_fuzzing.py`` has ``drain``, the oracle every read is held to).

* oracles: lines near ``max_row_bytes`` are rows or row errors by their length, on their
  physical line, with the offset after them exact.
"""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from bucketsync.sinks.records.formats import FormatOptions, RowError, read_rows
from tests.unit.records_fuzzing import Entry, drain, fuzz

# --- lines near max_row_bytes ----------------------------------------------------------------


@st.composite
def near_limit_jsonl(draw: st.DrawFn) -> tuple[int, list[str], list[str]]:
    """A limit, lines of JSON objects padded to lengths around it, and the end of each line
    (the last one perhaps none)."""
    limit = draw(st.integers(4, 24))
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        length = draw(st.integers(max(limit - 3, 2), limit + 3))
        pad = draw(st.sampled_from([" ", "\r", "\u00e9", "\t"]))
        body = "{" + pad * (length - 2) + "}"
        lines.append(draw(st.sampled_from([body, body, body, "", " \r"])))
    ends = [draw(st.sampled_from(["\n", "\r\n"])) for _ in lines]
    if draw(st.booleans()):
        ends[-1] = ""
    return limit, lines, ends


@fuzz(300)
@given(near_limit_jsonl())
def test_jsonl_lines_near_max_row_bytes_are_judged_by_length_on_their_own_line(
    built: tuple[int, list[str], list[str]],
) -> None:
    # GIVEN JSON Lines whose lengths straddle max_row_bytes, ending in LF or CRLF
    limit, lines, ends = built
    raw = "".join(line + end for line, end in zip(lines, ends, strict=True)).encode()
    # WHEN it is read with that limit
    chosen = FormatOptions(max_row_bytes=limit)
    entries, broke = drain(read_rows(io.BytesIO(raw), kind="jsonl", gzip=False, options=chosen))
    # THEN each line that is not blank is one entry on its physical line: a row error if it
    # is ``limit`` characters or longer (its line end not counted), else parsed; and each
    # entry tells the byte offset where the next line starts
    assert broke is None, broke
    expected, offset = [], 0
    for number, (line, end) in enumerate(zip(lines, ends, strict=True), start=1):
        offset += len((line + end).encode())
        if line.strip(" \t\r\n"):
            expected.append((number, len(line) >= limit, offset))
    assert [(e.line, too_long(e), e.after and e.after.offset) for e in entries] == expected


def too_long(entry: Entry) -> bool:
    return isinstance(entry, RowError) and "longer than" in entry.reason


@st.composite
def near_limit_csv(draw: st.DrawFn) -> tuple[int, list[str], list[str]]:
    limit = draw(st.integers(4, 16))
    lines, ends = ["a,b"], [draw(st.sampled_from(["\n", "\r\n", "\r"]))]
    for _ in range(draw(st.integers(1, 6))):
        length = draw(st.integers(max(limit - 3, 3), limit + 2))
        cell = draw(st.sampled_from(["x", "\u00e9"])) * (length - 2)
        line = draw(st.sampled_from([f"{cell},1", f"{cell},1", ""]))
        end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        # a blank line's LF after a CR would make one CRLF of the two
        lines.append(line)
        ends.append("\r\n" if not line and end == "\n" else end)
    return limit, lines, ends


@fuzz(300)
@given(near_limit_csv())
def test_csv_lines_near_max_row_bytes_are_judged_by_length_on_their_own_line(
    built: tuple[int, list[str], list[str]],
) -> None:
    # GIVEN a CSV file whose lines straddle max_row_bytes, ending in LF, CRLF or CR
    limit, lines, ends = built
    raw = "".join(line + end for line, end in zip(lines, ends, strict=True)).encode()
    # WHEN it is read with that limit
    chosen = FormatOptions(max_row_bytes=limit)
    entries, broke = drain(read_rows(io.BytesIO(raw), kind="csv", gzip=False, options=chosen))
    # THEN a line of ``limit`` characters or more (its line end not counted) breaks the file at
    # its number; before it, each record is a row on its physical line, with the offset after it
    first_long = next((n for n, line in enumerate(lines, 1) if len(line) >= limit), None)
    offsets = [0]
    for line, end in zip(lines, ends, strict=True):
        offsets.append(offsets[-1] + len((line + end).encode()))
    expected = [
        (number, offsets[number])
        for number, line in enumerate(lines, start=1)
        if number > 1 and line and (first_long is None or number < first_long)
    ]
    assert [(e.line, e.after and e.after.offset) for e in entries] == expected
    if first_long is None:
        assert broke is None, broke
    else:
        assert broke is not None and broke.line == first_long, broke
