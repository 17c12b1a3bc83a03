"""Routing rules: glob semantics on keys, and configuration errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bucketsync.errors import ConfigurationError
from bucketsync.record_routes import compile_glob, load_routes, parse_routes, routes_for


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("data/**/*.jsonl", "data/a.jsonl", True),  # ** spans zero segments
        ("data/**/*.jsonl", "data/2026/11/a.jsonl", True),
        ("data/**/*.jsonl", "data/2026/a.json", False),
        ("data/**/*.jsonl", "other/data/a.jsonl", False),  # anchored at the start
        ("data/*.csv", "data/x/y.csv", False),  # * stays within a segment
        ("data/*.csv", "data/y.csv", True),
        ("*.csv.gz", "a.csv.gz", True),
        ("*.csv.gz", "a.csv", False),
        ("file?.json", "file1.json", True),
        ("file?.json", "file/.json", False),
        ("log[0-9].txt", "log7.txt", True),
        ("log[!0-9].txt", "log7.txt", False),
        ("log[!0-9].txt", "logx.txt", True),
        ("a+b (1).json", "a+b (1).json", True),  # regex metacharacters are literal
        ("exports/**", "exports/x/y/z.csv", True),
        ("exports/**", "exports", False),
    ],
)
def test_glob_semantics(pattern: str, key: str, expected: bool) -> None:
    assert (compile_glob(pattern).fullmatch(key) is not None) is expected


segment = st.text(
    st.characters(blacklist_characters="/*?[]!", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=8,
)


@given(st.lists(segment, min_size=1, max_size=5))
def test_a_literal_key_matches_itself_and_star_never_crosses_a_slash(parts: list[str]) -> None:
    key = "/".join(parts)
    assert compile_glob(key).fullmatch(key)
    assert (compile_glob("*").fullmatch(key) is not None) is (len(parts) == 1)
    assert compile_glob("**").fullmatch(key)


def test_rules_route_by_key_and_bucket_and_several_may_apply() -> None:
    routes = parse_routes(
        '[{"match": "data/**/*.jsonl", "table": "orders", "key": ["id"]},'
        ' {"match": "**/*.jsonl", "table": "all-rows", "bucket": "b1"}]'
    )
    assert [r.table for r in routes_for(routes, "b1", "data/x/o.jsonl")] == ["orders", "all-rows"]
    assert [r.table for r in routes_for(routes, "b2", "data/x/o.jsonl")] == ["orders"]
    assert routes_for(routes, "b1", "data/x/o.csv") == []
    assert routes[0].key == ["id"]
    assert routes[1].csv.delimiter == ","


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[{oops", "not valid JSON"),
        ('[{"match": "a/*", "table": "t1"}]', "[0.table]"),  # too short a table name
        ('[{"match": "a/*", "table": "tbl", "colour": 1}]', "[0.colour]"),
        ('[{"match": "a/[x", "table": "tbl"}]', "unclosed '['"),
        ('[{"match": "a", "table": "tbl", "key": ["a", "b", "c"]}]', "[0.key]"),
        ('[{"match": "a", "table": "tbl", "csv": {"delimiter": ";;"}}]', "[0.csv.delimiter]"),
    ],
)
def test_a_bad_rule_is_a_configuration_error_that_says_where(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse_routes(text)


def test_rules_come_inline_then_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.write_text('[{"match": "b/*", "table": "from-file"}]', encoding="utf-8")
    routes = load_routes('[{"match": "a/*", "table": "inline"}]', str(path))
    assert [r.table for r in routes] == ["inline", "from-file"]
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_routes(None, str(tmp_path / "missing.json"))
