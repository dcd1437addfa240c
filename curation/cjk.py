"""The one definition of "CJK character" that scoring (one word per character) and dedup (character
shingles) share: Han ideographs with extension A, the compatibility block and the supplementary
planes (extensions B–F, where rare names and classical text live), kana and Hangul syllables.

Both stages switch to their Chinese-aware variants when at least ``CJK_SHARE`` of a document's
non-space characters fall in these ranges.
"""

import re

import numpy as np

# (first, last) code point of each range, inclusive.
CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3400, 0x4DBF),  # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x2FFFF),  # supplementary ideographic plane (extensions B-F, compatibility supplement)
)
# our choice, used by both stages: 30 % CJK characters makes a document CJK (a Chinese article quoting
# English terms stays Chinese; an English page with a Chinese name does not)
CJK_SHARE = 0.3

# The ranges as a regex character-class body, e.g. for ``re.compile(f"[{CJK_CLASS}]")``.
CJK_CLASS = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in CJK_RANGES)
CJK_CHAR_RE = re.compile(f"[{CJK_CLASS}]")


def is_cjk_code_point(code_points: np.ndarray) -> np.ndarray:
    """Boolean mask over an array of code points (the vectorised form of ``CJK_CHAR_RE``)."""
    mask = np.zeros(code_points.shape, dtype=bool)
    for lo, hi in CJK_RANGES:
        mask |= (code_points >= lo) & (code_points <= hi)
    return mask
