"""A rule-based sentence splitter for English and Chinese whose pieces rebuild the text exactly.

``sentence_starts(text)`` returns the offsets where a sentence (a *unit*) begins; the units are
the slices between them, each keeping its trailing whitespace, so ``"".join(units) == text``
always. Boundaries:

- after ``.``, ``!`` or ``?`` (and closing quotes / brackets) followed by whitespace and a capital,
  digit, opening quote, CJK character or LaTeX/math opener; not after a known abbreviation
  ("e.g.", "Dr.") or a single-letter initial ("J. Smith"), never inside "3.14" (no whitespace);
- after Chinese end punctuation ``。！？`` or an ellipsis ``……`` (and closing quotes), directly;
- at every paragraph break (a blank line), and before a line that starts a list item or heading;
- a unit still longer than ``max_unit_chars`` (code, tables, run-on text) is cut at its line
  breaks, then at spaces, so a segment budget can always be met.

The same function segments documents (``segments.rule_segments``) and judges an LLM's split
(``segments.coverage_problem``): a segment boundary must be one of these offsets.
"""

import itertools
import re
from bisect import bisect_right

from curation.cjk import CJK_CLASS

# words whose trailing period does not end a sentence (lower-cased, without the period)
ABBREVIATIONS = frozenset(
    ["mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "cf", "fig", "figs", "no", "nos", "vol", "vols", "sec", "eq", "eqs", "al", "approx", "inc", "ltd", "co", "corp", "dept", "est", "ch", "pp", "ed", "eds", "rev", "gen", "col", "lt", "sgt", "capt", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "a.m", "p.m", "ph.d"]
)
_EN_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
_NEXT_STARTS = re.compile(rf"[\s]+(?=[A-Z0-9\"'“‘(\[$\\{CJK_CLASS}])")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_ZH_END = re.compile(r"(?:[。！？]|[!?](?=[" + CJK_CLASS + r"])|……)+[”’」』）》\"']*\s*")
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_ITEM_LINE = re.compile(r"\n(?=[ \t]*(?:[-*•#>]|\d{1,3}[.)、]|[（(]\d{1,3}[)）]|第[一二三四五六七八九十\d]+[步章节])\s?)")
DEFAULT_MAX_UNIT_CHARS = 1200


def _english_ends(text: str) -> list[int]:
    starts = []
    for m in _EN_END.finditer(text):
        gap = _NEXT_STARTS.match(text, m.end())
        if gap is None:
            continue
        before = _WORD_BEFORE.search(text, 0, m.start())
        if text[m.start()] == "." and before is not None:
            word = before.group(1).casefold().rstrip(".")
            if word in ABBREVIATIONS or (len(word) == 1 and before.group(1)[0].isupper()):
                continue
        starts.append(gap.end())
    return starts


def _chinese_ends(text: str) -> list[int]:
    return [m.end() for m in _ZH_END.finditer(text) if m.end() < len(text)]


def _cut_long(text: str, lo: int, hi: int, max_chars: int) -> list[int]:
    """Extra starts inside ``text[lo:hi]`` so no piece exceeds ``max_chars``: line breaks first, then spaces."""
    cuts, start = [], lo
    while hi - start > max_chars:
        window = text[start : start + max_chars]
        at = window.rfind("\n")
        if at < max_chars // 4:
            at = max(window.rfind(" "), window.rfind("，"), window.rfind(","))
        cut = start + (at + 1 if at >= max_chars // 4 else max_chars)
        cuts.append(cut)
        start = cut
    return cuts


def sentence_starts(text: str, max_unit_chars: int | None = DEFAULT_MAX_UNIT_CHARS) -> list[int]:
    """Offsets where the units of ``text`` begin: always starts with 0, strictly increasing, all < len(text)."""
    if not text:
        return []
    found = {0}
    found.update(_english_ends(text))
    found.update(_chinese_ends(text))
    found.update(m.end() for m in _PARAGRAPH.finditer(text))
    found.update(m.end() for m in _ITEM_LINE.finditer(text))
    starts = sorted(s for s in found if 0 <= s < len(text))
    if max_unit_chars:
        bounds = starts + [len(text)]
        extra = [c for lo, hi in itertools.pairwise(bounds) if hi - lo > max_unit_chars
                 for c in _cut_long(text, lo, hi, max_unit_chars)]
        starts = sorted(set(starts) | set(extra))
    return starts


def split_sentences(text: str, max_unit_chars: int | None = DEFAULT_MAX_UNIT_CHARS) -> list[str]:
    """The units of ``text`` (whole sentences with their trailing whitespace); they join back to ``text``."""
    starts = sentence_starts(text, max_unit_chars)
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


def is_boundary(starts: list[int], offset: int) -> bool:
    """True when ``offset`` is a unit start (or the end of the text, given as a start past the last)."""
    i = bisect_right(starts, offset) - 1
    return i >= 0 and starts[i] == offset


def complete_sentences(text: str) -> str:
    """``text`` without a trailing unfinished sentence (a generation cut by its token budget).

    The last unit is dropped when it does not end in sentence punctuation and an earlier unit does;
    a text of one unfinished sentence is returned as it is (the caller's length rules judge it)."""
    units = split_sentences(text.rstrip())
    if len(units) < 2:
        return text.strip()
    if re.search(r"[.!?。！？…:：\"'”’)\]}$]\s*$", units[-1]):
        return text.strip()
    return "".join(units[:-1]).strip()
