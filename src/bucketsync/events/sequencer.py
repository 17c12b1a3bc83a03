"""S3 sequencers: per-key ordering tokens.

S3 documents the sequencer as a hexadecimal string that orders events *for the same key*
only, and whose length may vary. The S3 user guide ("Event message structure") says: "The
sequencers can be of different lengths. So, to compare these values, first right pad the
shorter value with zeros, and then do a lexicographical comparison." Older editions of that
page said "left pad"; AWS corrected it, and we follow the current text (docs/ordering.md).

We store the right-padded, upper-cased form, so DynamoDB can compare two sequencers as plain
strings inside a condition expression.
"""

from __future__ import annotations

import re

from bucketsync.errors import MalformedEventError

SEQUENCER_WIDTH = 64
_HEX = re.compile(r"[0-9A-Fa-f]{1,64}")


def sequencer_sort_key(sequencer: str) -> str:
    """Fixed-width form whose string order is S3's documented sequencer order."""
    if not _HEX.fullmatch(sequencer):
        raise MalformedEventError(
            f"sequencer {sequencer!r} is not 1 to {SEQUENCER_WIDTH} hexadecimal digits"
        )
    return sequencer.upper().ljust(SEQUENCER_WIDTH, "0")


def is_newer(candidate: str, than: str) -> bool:
    """True when sequencer ``candidate`` orders strictly after ``than``."""
    return sequencer_sort_key(candidate) > sequencer_sort_key(than)
