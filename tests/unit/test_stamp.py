from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bucketsync.engine.stamp import ObservationClock, sequencer_stamp
from bucketsync.errors import MalformedEventError

HEX = st.text("0123456789ABCDEFabcdef", min_size=1, max_size=40)


@given(HEX, HEX)
def test_sequencer_stamps_order_like_right_padded_strings(a: str, b: str) -> None:
    # S3: "first right pad the shorter value with zeros, then compare lexicographically".
    width = max(len(a), len(b))
    pa, pb = a.upper().ljust(width, "0"), b.upper().ljust(width, "0")
    assert (sequencer_stamp(a) < sequencer_stamp(b)) == (pa < pb)
    assert (sequencer_stamp(a) == sequencer_stamp(b)) == (pa == pb)


def test_sequencers_of_unequal_length_examples() -> None:
    assert sequencer_stamp("0055AED6DCD9028") < sequencer_stamp("0055AED6DCD90281E5")
    assert sequencer_stamp("0056") > sequencer_stamp("0055FFFFFFFF")
    assert sequencer_stamp("0A") == sequencer_stamp("0a00")


@pytest.mark.parametrize("bad", ["", "0G", "0A\n", " 0A", "F" * 65])
def test_malformed_sequencers_are_refused(bad: str) -> None:
    with pytest.raises(MalformedEventError):
        sequencer_stamp(bad)


def test_observation_clock_is_strictly_increasing_even_when_time_stands_still() -> None:
    clock = ObservationClock(now_ns=lambda: 1_000)
    stamps = [clock.stamp() for _ in range(3)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
