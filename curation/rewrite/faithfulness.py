"""Is a rewrite faithful to its source? Numbers, names and wording of the output must come from it.

Seed 003 names hallucination as one of the three hard problems of rewriting at scale and
Kimi K2 checks every rewritten chunk for fidelity to its original. These are the cheap lexical
tests of that idea, each a *proxy*: numbers are compared exactly, named entities are
capitalised words (no NER model), and agreement is the share of the output's content words
(Chinese: character bigrams) found in the source, not an embedding similarity.
"""

import re
from dataclasses import dataclass

_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_ENUMERATOR = re.compile(r"^\s*(?:[-*•]\s*)?\d{1,2}[.)]\s", re.MULTILINE)  # "1. " list markers are not facts
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'_-]*")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]\s*|[-*•]\s+|\"\s*)$")
# capitalised words that are grammar or our own prompt format, not names
_NOT_NAMES = frozenset(
    ["i", "a", "an", "the", "this", "that", "these", "those", "it", "its", "in", "on", "at", "of", "for", "to", "and", "or", "but", "if", "when", "while", "what", "which", "who", "whom", "whose", "why", "how", "where", "yes", "no", "question", "answer", "true", "false", "note", "however", "therefore", "thus", "also", "each", "every", "some", "many", "most", "first", "second", "third", "finally", "step", "steps", "problem", "solution", "final"]
)
_STOP = frozenset(
    ["the", "and", "for", "that", "with", "this", "from", "are", "was", "were", "has", "have", "had", "not", "but", "all", "any", "can", "its", "his", "her", "their", "them", "they", "you", "your", "our", "which", "who", "what", "when", "where", "why", "how", "into", "over", "than", "then", "there", "these", "those", "such", "also", "more", "most", "some", "each", "other", "about", "would", "could", "should", "will", "may", "might", "must", "been", "being", "does", "did", "done", "very", "just", "only"]
)


@dataclass(frozen=True)
class FaithfulnessConfig:
    # share of the output's numbers absent from the source above which it is unfaithful; 0.0: every number
    # must come from the source (K2's fidelity check, seed 003); None skips the test
    max_unsupported_number_share: float | None = 0.0
    # share of capitalised names absent from the source (our bound: one stray name in three)
    max_unsupported_entity_share: float | None = 0.34
    # share of output content words found in the source; below it the output drifted from its source
    # (our bound, after WRAP's observation that good paraphrases keep the source's vocabulary)
    min_source_overlap: float | None = 0.4
    # a QA answer whose content words are less than this share in the source is unsupported (dropped)
    min_answer_support: float | None = 0.5
    # fewer items than this make a share noise (two names, one unknown = 0.5): the test is not applied
    min_items_to_judge: int = 3


def _normalize_number(token: str) -> str:
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", token):  # 1,000,000 -> 1000000
        token = token.replace(",", "")
    return token.rstrip(".,").lstrip("0") or "0"


def numbers(text: str) -> list[str]:
    return [_normalize_number(n) for n in _NUMBER.findall(_ENUMERATOR.sub(" ", text))]


def unsupported_numbers(output: str, source: str) -> tuple[list[str], int]:
    known = set(numbers(source))
    found = numbers(output)
    return [n for n in found if n not in known], len(found)


def entities(text: str) -> list[str]:
    """Capitalised words not at a sentence start (a proxy for named entities, English only)."""
    out = []
    for match in _WORD.finditer(text):
        word = match.group()
        if not word[0].isupper() or word.casefold() in _NOT_NAMES:
            continue
        if _SENTENCE_START.search(text[max(0, match.start() - 3) : match.start()]):
            continue
        out.append(word)
    return out


def unsupported_entities(output: str, source: str) -> tuple[list[str], int]:
    known = {w.casefold() for w in _WORD.findall(source)}
    found = entities(output)
    return [e for e in found if e.casefold() not in known], len(found)


def content_tokens(text: str) -> list[str]:
    """Lower-cased content words cut to 5 letters (a crude stem: "defined" ~ "defines"), plus CJK bigrams."""
    words = [w.casefold()[:5] for w in _WORD.findall(text) if len(w) >= 3 and w.casefold() not in _STOP]
    cjk = "".join(_CJK.findall(text))
    return words + [cjk[i : i + 2] for i in range(len(cjk) - 1)]


def source_overlap(output: str, source: str) -> tuple[float, int]:
    """Share of the output's content tokens that occur in the source, and how many tokens it rests on."""
    tokens = content_tokens(output)
    if not tokens:
        return 0.0, 0
    known = set(content_tokens(source))
    return sum(t in known for t in tokens) / len(tokens), len(tokens)
