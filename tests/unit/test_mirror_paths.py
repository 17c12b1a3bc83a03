"""Keys to paths: hostile keys stay inside the root, and every accepted key maps back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bucketsync.errors import UnsafeKeyError
from bucketsync.sinks.mirror import key_of, local_path
from bucketsync.sinks.mirror.paths import relative_path

# (key, where it lands under the root)
MAPPED = [
    ("plain/file.txt", "plain/file.txt"),
    ("../x", "%2E%2E/x"),
    ("a/../../x", "a/%2E%2E/%2E%2E/x"),
    ("/etc/passwd", "%/etc/passwd"),
    ("a\\..\\..\\x", "a%5C..%5C..%5Cx"),
    ("a\x00b", "a%00b"),
    ("line\nbreak\r", "line%0Abreak%0D"),
    ("c1\x85", "c1%C2%85"),
    (".", "%2E"),
    ("..", "%2E%2E"),
    ("a/./b", "a/%2E/b"),
    ("a//b", "a/%/b"),
    ("x//y//z", "x/%/y/%/z"),
    ("...", "..."),
    (".hidden", ".hidden"),
    (".bucketsync/state.sqlite", "%2Ebucketsync/state.sqlite"),
    ("deep/.bucketsync-abc123", "deep/%2Ebucketsync-abc123"),
    ("%2E%2E", "%252E%252E"),
    ("100%", "100%25"),
    ("%", "%25"),
    ("日本語/ファイル.txt", "日本語/ファイル.txt"),
    ("emoji 😀/a+b c.txt", "emoji 😀/a+b c.txt"),
    ("x" * 255, "x" * 255),
]

REFUSED = [
    ("", "empty"),
    ("folder/", "folder placeholder"),
    ("/", "folder placeholder"),
    ("a/" + "x" * 300, "path segment of 300 bytes"),
    ("%" * 100, "path segment of 300 bytes"),  # each % becomes three bytes
    ("a/" * 2500 + "b", "a path of"),  # a 5,001-byte key
    ("\ud800", "UTF-8"),
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    made = tmp_path / "root"
    made.mkdir()
    return made


def inside(root: Path, path: Path) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root and path != root


@pytest.mark.parametrize(("key", "expected"), MAPPED)
def test_hostile_keys_map_inside_the_root_and_back(root: Path, key: str, expected: str) -> None:
    # GIVEN a key that names something odd, WHEN it is mapped
    path = local_path(root, key)
    # THEN it lands where the table says, inside the root, and maps back to the same key
    assert path == root / expected
    assert inside(root, path)
    assert ".." not in path.relative_to(root).parts
    assert key_of(root, path) == key


@pytest.mark.parametrize(("key", "reason"), REFUSED)
def test_unwritable_keys_are_refused_with_a_reason(root: Path, key: str, reason: str) -> None:
    with pytest.raises(UnsafeKeyError) as caught:
        local_path(root, key)
    assert reason in caught.value.reason
    assert caught.value.key == key


def test_the_state_directory_cannot_be_reached(root: Path) -> None:
    # GIVEN every spelling of the state directory a key could try
    for key in (".bucketsync", ".bucketsync/state.sqlite", "a/../.bucketsync/x", ".bucketsyncX"):
        # THEN none maps to a path whose first segment is the state directory
        first = local_path(root, key).relative_to(root).parts[0]
        assert not first.startswith(".bucketsync"), key


def test_distinct_keys_never_share_a_path(root: Path) -> None:
    keys = [key for key, _ in MAPPED] + ["a/%/b", "%2E", "a%5Cb", "a\\b", "a/%00/b", "a/\x00/b"]
    paths = [local_path(root, key) for key in keys]
    assert len(set(paths)) == len(set(keys))


def test_a_symlinked_directory_in_the_root_is_refused(root: Path, tmp_path: Path) -> None:
    # GIVEN a directory link planted in the root, pointing outside it
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    # THEN a key below it is refused, not followed
    with pytest.raises(UnsafeKeyError, match="symbolic link"):
        local_path(root, "link/x.txt")


def test_a_symlinked_file_in_the_root_is_refused(root: Path, tmp_path: Path) -> None:
    (root / "passwd").symlink_to(tmp_path / "secret")
    with pytest.raises(UnsafeKeyError, match="symbolic link"):
        local_path(root, "passwd")


def test_a_link_that_stays_inside_is_refused_too(root: Path) -> None:
    (root / "real").mkdir()
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    with pytest.raises(UnsafeKeyError, match="symbolic link"):
        local_path(root, "alias/x")
    assert local_path(root, "real/x") == root / "real/x"


def test_a_symlinked_root_is_fine(tmp_path: Path, root: Path) -> None:
    # /tmp is a link on macOS: the root itself may be one; what is below it may not
    alias = tmp_path / "alias-root"
    alias.symlink_to(root, target_is_directory=True)
    assert local_path(alias, "a/b") == alias / "a/b"


@pytest.mark.parametrize(
    "name",
    ["100%.txt", "%2e", "%2Efoo", "a%5", "%", "%C3", ".bucketsync-tmp1234", "%2Ebucketsyn"],
)
def test_key_of_refuses_names_the_mirror_never_writes(root: Path, name: str) -> None:
    # "%" alone is an empty segment only between others; a whole path of it is refused
    with pytest.raises(UnsafeKeyError):
        key_of(root, root / name)


def test_key_of_refuses_paths_outside_the_root(root: Path, tmp_path: Path) -> None:
    with pytest.raises(UnsafeKeyError):
        key_of(root, tmp_path / "elsewhere")
    with pytest.raises(UnsafeKeyError):
        key_of(root, root)


def test_key_of_takes_relative_paths(root: Path) -> None:
    assert key_of(root, Path("a/%/b")) == "a//b"


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mirror-root")


# Any text, and keys built from the pieces that make paths dangerous, which plain text
# would rarely put together.
TOKENS = ["/", ".", "..", "\\", "%", "%2E", "%25", "\x00", "\n", "é", "a", " ", ".bucketsync"]
KEYS = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(TOKENS), max_size=16).map("".join),
)


@settings(max_examples=500, deadline=None)
@given(key=KEYS)
def test_every_accepted_key_round_trips_inside_the_root(shared_root: Path, key: str) -> None:
    try:
        path = local_path(shared_root, key)
    except UnsafeKeyError:
        return
    assert key_of(shared_root, path) == key
    assert inside(shared_root, path)
    assert ".." not in path.relative_to(shared_root).parts
    assert all(len(part.encode()) <= 255 for part in path.relative_to(shared_root).parts)


@settings(max_examples=300, deadline=None)
@given(
    key=st.text(min_size=1, max_size=40).filter(lambda k: not k.endswith("/")),
)
def test_short_keys_are_always_accepted(shared_root: Path, key: str) -> None:
    # 40 characters escape to at most 240 bytes: no ordinary key is ever refused
    assert key_of(shared_root, local_path(shared_root, key)) == key


@settings(max_examples=300, deadline=None)
@given(first=KEYS, second=KEYS)
def test_the_mapping_is_injective(first: str, second: str) -> None:
    try:
        one, two = relative_path(first), relative_path(second)
    except UnsafeKeyError:
        return
    assert (one == two) == (first == second)
