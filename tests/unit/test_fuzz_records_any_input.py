"""Fuzzing the records formats (issue 15): any input, read any way, gives rows, row errors,
MalformedFileError or ConfigurationError, nothing else (``records_fuzzing.py`` has the
strategies and ``drain``, the oracle every read is held to).

* any bytes or a mutated file, gzipped or not, with any options, key and Content-Encoding;
  any start and skip;
* oracles: any chunking of the body reads the same; a CSV written with any delimiter and
  quote reads back; a truncated gzip gives the rows before the cut.
"""

from __future__ import annotations

import csv
import gzip
import io
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bucketsync.errors import ConfigurationError, MalformedFileError
from bucketsync.sinks.records.formats import FormatOptions, Kind, Row, Start, read_object, read_rows
from tests.unit.records_fuzzing import (
    CHUNKINGS,
    NAMES,
    Chunked,
    drain,
    files,
    fuzz,
    gzipped,
    mutated,
    options,
    prefixes,
    spelled,
    valid_files,
)

# --- any input, any options ------------------------------------------------------------------

KEYS = st.sampled_from(["f.json", "f.jsonl.gz", "f.csv", "f.tsv", "f.ndjson", "f", "f.JSON.GZ"])
CODINGS = st.sampled_from([None, "", "gzip", "identity", "br", "gzip, zstd", "GZIP", "x-gzip"])


@fuzz(300)
@given(
    st.data(),
    st.binary(max_size=200) | files().map(lambda kind_data: kind_data[1]),
    options(),
    st.booleans(),
    CHUNKINGS,
)
def test_any_bytes_read_with_any_options_give_only_the_typed_outcomes(
    data: st.DataObject, raw: bytes, chosen: dict[str, Any], gz: bool, sizes: list[int]
) -> None:
    # GIVEN any bytes (garbage or a mutated file), gzipped (perhaps damaged) or not, any options
    body = data.draw(gzipped(raw), label="gzipped") if gz else raw
    key, coding = data.draw(KEYS, label="key"), data.draw(CODINGS, label="coding")
    # WHEN options are made and the object is read with them
    try:
        made = FormatOptions(**chosen)
        entries = read_object(Chunked(body, sizes), key=key, content_encoding=coding, options=made)
    except (ConfigurationError, MalformedFileError):
        return  # bad options, an unknown format, a compression not supported: typed, up front
    # THEN rows, row errors and perhaps MalformedFileError come out, nothing else
    drain(entries)


@fuzz(100)
@given(
    st.data(),
    st.sampled_from(["jsonl", "csv"]),
    st.integers(-3, 12),
    st.integers(-1, 12),
    st.integers(-3, 200),
)
def test_any_start_and_skip_give_only_the_typed_outcomes(
    data: st.DataObject, kind: Kind, index: int, line: int, offset: int
) -> None:
    # GIVEN a file, and any place a read might be asked to start at, with or without a header
    raw = data.draw(mutated(data.draw(valid_files(kind))), label="file")
    header = data.draw(st.none() | st.lists(NAMES, max_size=3), label="header")
    skip = data.draw(st.integers(-2, 8), label="skip")
    # WHEN the body from that offset on is read from there
    try:
        entries = read_rows(
            io.BytesIO(raw[max(offset, 0) :]),
            kind=kind,
            gzip=False,
            start=Start(index, line, offset),
            header=header,
            skip=skip,
        )
    except ConfigurationError:
        return  # not a place a read can start at, or a header where none is wanted
    # THEN rows numbered on from the start, row errors, or MalformedFileError
    drain(entries, skip=skip, first_index=index)


# --- the same outcome whatever the chunking --------------------------------------------------


@fuzz(200)
@given(files(), st.booleans(), CHUNKINGS)
def test_any_chunking_of_the_body_reads_the_same(
    kind_data: tuple[Kind, bytes], gz: bool, sizes: list[int]
) -> None:
    # GIVEN a file, read once at a go and once through a body that answers a few bytes a time
    kind, raw = kind_data
    body = gzip.compress(raw) if gz else raw
    whole, whole_broke = drain(read_rows(io.BytesIO(body), kind=kind, gzip=gz))
    chunked, chunked_broke = drain(read_rows(Chunked(body, sizes), kind=kind, gzip=gz))
    # THEN both break, or neither does and the same entries come out (``after`` too)
    assert (whole_broke is None) == (chunked_broke is None), (whole_broke, chunked_broke)
    if whole_broke is None:
        assert spelled(chunked) == spelled(whole)
        assert [e.after for e in chunked] == [e.after for e in whole]
    else:
        # the rows yielded before a break stand: each read gave a prefix of the other's
        assert prefixes(spelled(whole), spelled(chunked))


# --- odd delimiters and quotes ---------------------------------------------------------------

DIALECT_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\ufeff")
HEADER_NAMES = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=4).filter(
    lambda name: not name.startswith("\ufeff")
)


@fuzz(200)
@given(
    delimiter=DIALECT_CHARS,
    quotechar=DIALECT_CHARS,
    header=st.lists(HEADER_NAMES, min_size=1, max_size=3, unique=True),
    data=st.data(),
)
def test_a_csv_written_with_any_delimiter_and_quote_reads_back(
    delimiter: str, quotechar: str, header: list[str], data: st.DataObject
) -> None:
    # GIVEN a table written by csv.writer with any delimiter and quote character
    try:
        chosen = FormatOptions(delimiter=delimiter, quotechar=quotechar)
    except ConfigurationError:
        assert delimiter == quotechar
        return
    width = len(header)
    cells = st.text(st.characters(exclude_categories=["Cs"]), max_size=5)
    rows = data.draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=4))
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, quotechar=quotechar, quoting=csv.QUOTE_ALL)
    writer.writerows([header, *rows])
    # WHEN it is read with the same dialect
    raw = out.getvalue().encode()
    entries, broke = drain(read_rows(io.BytesIO(raw), kind="csv", gzip=False, options=chosen))
    # THEN the same rows come back
    assert broke is None, broke
    assert [e.value if isinstance(e, Row) else e for e in entries] == [
        dict(zip(header, row, strict=True)) for row in rows
    ]


# --- gzip ------------------------------------------------------------------------------------


@fuzz(150)
@given(files(), st.data())
def test_a_gzip_cut_short_gives_a_prefix_of_the_rows(
    kind_data: tuple[Kind, bytes], data: st.DataObject
) -> None:
    # GIVEN a file gzipped as one member or several, cut short anywhere
    kind, raw = kind_data
    packed = data.draw(gzipped(raw, damage=False), label="packed")
    cut = packed[: data.draw(st.integers(0, len(packed)), label="cut")]
    whole, _ = drain(read_rows(io.BytesIO(raw), kind=kind, gzip=False))
    # WHEN it is read
    entries, broke = drain(read_rows(io.BytesIO(cut), kind=kind, gzip=True))
    # THEN what came out is what the whole file gives, as far as it went (a cut between
    # members ends the file cleanly, perhaps inside its last row); nothing else comes out
    seen = spelled(entries if broke is not None else entries[:-1])
    assert prefixes(seen, spelled(whole))
