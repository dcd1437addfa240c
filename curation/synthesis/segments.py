"""Step 1 of seed 001's CoT synthesis: split a document into logically coherent segments of whole
sentences, in its own language, covering it in order without loss.

The model sees the document as numbered sentences (``sentences.split_sentences``) and answers with
the numbers of the sentences that open a new segment (``parse_boundaries``). Seed 001 has the
model write the segments out; answering with boundaries keeps every segment verbatim by
construction and costs a few tokens instead of the whole document again. Whatever produced a
split, ``coverage_problem`` judges it by rebuilding the source from the segments; a split that
fails (or an answer that is no valid boundary list) falls back to ``rule_segments``, counted.
"""

import itertools
import re
from dataclasses import dataclass

from curation.synthesis.sentences import sentence_starts

# why an LLM answer is not a usable split (drop-ledger / fallback reasons)
NOT_A_NUMBER_LIST = "not_a_number_list"
OUT_OF_RANGE = "boundary_out_of_range"
NOT_INCREASING = "boundaries_not_increasing"
TOO_MANY = "too_many_segments"
TOO_LONG = "segment_too_long"
TOO_SHORT = "segment_too_short"
LOST_TEXT = "segments_lose_text"
MID_SENTENCE = "segment_cuts_a_sentence"

_LABEL = re.compile(r"^[^\d\n]{0,60}[:：]\s*")
_NUMBER_LIST = re.compile(r"^\[?\d+\]?(?:\s*(?:,|，|、|;|and|&|\s)\s*\[?\d+\]?)*\s*[.。]?$", re.IGNORECASE)
_NONE = re.compile(r"^(?:none|no new segments?|0|无)[.。]?$", re.IGNORECASE)


@dataclass(frozen=True)
class Split:
    """Segments of one document: unit indices that open each segment, and the texts they give."""

    starts: tuple[int, ...]  # unit indices, starts[0] == 0
    texts: tuple[str, ...]
    method: str  # "llm" or "rule"
    note: str | None = None  # why the rule split was used, when it was


def units_of(text: str, max_unit_chars: int) -> tuple[list[str], list[int]]:
    """The document's units (sentences) and their character offsets."""
    offsets = sentence_starts(text, max_unit_chars)
    ends = offsets[1:] + [len(text)]
    return [text[a:b] for a, b in zip(offsets, ends)], offsets


def join_units(units: list[str], starts: list[int] | tuple[int, ...]) -> tuple[str, ...]:
    bounds = list(starts) + [len(units)]
    return tuple("".join(units[a:b]) for a, b in itertools.pairwise(bounds))


def _size(text: str) -> int:
    return len(text.strip())


def rule_segments(units: list[str], target_chars: int, max_chars: int) -> list[int]:
    """Greedy grouping of consecutive units into segments of about ``target_chars``: a segment closes
    once it reaches the target, before a unit that would push it past ``max_chars``, or at a paragraph
    break once it holds half the target; a short tail joins the previous segment when it fits."""
    if not units:
        return []
    starts, size = [0], 0
    for i, unit in enumerate(units):
        n = len(unit)
        if i > 0 and size > 0:
            paragraph = units[i - 1].endswith("\n\n") or bool(re.search(r"\n[ \t]*\n\s*$", units[i - 1]))
            if size >= target_chars or size + n > max_chars or (paragraph and size >= target_chars // 2):
                starts.append(i)
                size = 0
        size += n
    if len(starts) > 1:
        tail = sum(len(u) for u in units[starts[-1]:])
        before = sum(len(u) for u in units[starts[-2] : starts[-1]])
        if tail < target_chars // 4 and before + tail <= max_chars:
            starts.pop()
    return starts


def numbered(units: list[str]) -> str:
    """The prompt's view of the document: one ``[i] sentence`` line per unit, numbered from 1."""
    return "\n".join(f"[{i}] {' '.join(u.split())}" for i, u in enumerate(units, 1))


def parse_boundaries(output: str, n_units: int, max_segments: int) -> tuple[list[int] | None, str | None]:
    """Unit indices (0-based, starting with 0) from an answer like ``"3, 7"`` (1-based sentence numbers
    that open a segment), or ``(None, reason)``. "1" may be given or not; "none" means one segment."""
    text = " ".join(output.strip().split())
    text = _LABEL.sub("", text, count=1).strip()
    if _NONE.match(text):
        return [0], None
    if not text or not _NUMBER_LIST.match(text):
        return None, NOT_A_NUMBER_LIST
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    if any(n < 1 or n > n_units for n in numbers):
        return None, OUT_OF_RANGE
    if any(b <= a for a, b in itertools.pairwise(numbers)):
        return None, NOT_INCREASING
    starts = [0] + [n - 1 for n in numbers if n > 1]
    if len(starts) > max_segments:
        return None, TOO_MANY
    return starts, None


def split_problem(units: list[str], starts: list[int], max_chars: int, min_chars: int = 0) -> str | None:
    """Why a boundary list is unusable beyond its syntax: a segment outside the size bounds."""
    sizes = [_size(t) for t in join_units(units, starts)]
    if any(n > max_chars for n in sizes):
        return TOO_LONG
    if len(sizes) > 1 and any(n < min_chars for n in sizes):
        return TOO_SHORT
    return None


def coverage_problem(source: str, segments: list[str] | tuple[str, ...],
                     max_unit_chars: int | None = None) -> tuple[str, str] | None:
    """``(reason, detail)`` when ``segments`` do not rebuild ``source`` exactly, in order, cut only at
    sentence starts of the rule splitter (``max_unit_chars`` as the splitter used); None when they do."""
    rebuilt = "".join(segments)
    if rebuilt != source:
        at = next((i for i, (a, b) in enumerate(zip(rebuilt, source)) if a != b), min(len(rebuilt), len(source)))
        return LOST_TEXT, (f"segments rebuild {len(rebuilt)} of {len(source)} characters; first difference at "
                           f"character {at}: source {source[at:at + 30]!r} vs segments {rebuilt[at:at + 30]!r}")
    kwargs = {} if max_unit_chars is None else {"max_unit_chars": max_unit_chars}
    starts = set(sentence_starts(source, **kwargs))
    offset = 0
    for k, segment in enumerate(segments):
        if not segment:
            return LOST_TEXT, f"segment {k} is empty"
        if offset not in starts:
            return MID_SENTENCE, f"segment {k} starts at character {offset}, inside a sentence: {segment[:30]!r}"
        offset += len(segment)
    return None
