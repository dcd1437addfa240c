"""One pass of tokenisation per document, shared by every rule set.

DataTrove re-tokenises the text in each filter; here a document is split once into lines,
paragraphs and words (lazily, only what the enabled rules ask for) and every rule set reads
the same ``TextStats``. Chinese has no spaces and jieba is not installed, so each CJK
character is one word (the usual character-level fallback); Latin runs are words as usual.
Table drawing (the borders and column bars of a table rendered as plain text) is layout, not text: the
paper rules were measured on text extracted from HTML, where a table is its cells' words, so the layout
views below (``content_line_runs``, ``content_paragraphs``, ``n_content_chars``, ``n_tokens``) leave it
out. Repetition figures (duplicate lines, top / duplicated n-grams) are computed with numpy over
64-bit word values instead of joining strings per position: each distinct word of the document
gets its first-occurrence number, spread over 64 bits by a fixed bijection (hashing.mix64), so
equal words get equal values and the figures depend on the text alone (no per-word digest, no
salted ``hash()``).
"""

import re
from functools import cached_property

import numpy as np

from curation.cjk import CJK_CHAR_RE, CJK_CLASS, CJK_SHARE
from curation.hashing import mix64

# A word: a CJK character (curation/cjk.py, shared with dedup), or a run of non-CJK word characters
# (apostrophe-joined: "don't").
WORD_RE = re.compile(rf"[{CJK_CLASS}]|[^\W{CJK_CLASS}]+(?:['’][^\W{CJK_CLASS}]+)*")
# A whitespace-delimited token made of symbols only ("->", "==", "•"): a non-alphabetic word.
SYMBOL_TOKEN_RE = re.compile(r"(?<!\S)[^\w\s]+(?!\S)")
DIGIT_RE = re.compile(r"\d")
# Characters that draw a table or a rule in plain text: ASCII (| + - = ~ :, as in "+----+", "|---|:--:|",
# "=====") and Unicode box drawing (U+2500..U+257F: "─", "│", "┼" …)
_LAYOUT = "|+\\-=~:\u2500-\u257f"
# A line that only draws: a table border or row rule, a rule line, an empty table row ("|    |    |")
LAYOUT_LINE_RE = re.compile(rf"[ \t]*(?:[{_LAYOUT}][ \t]*){{3,}}")
_LAYOUT_RUN_RE = re.compile(rf"[{_LAYOUT}](?:[ \t]*[{_LAYOUT}]){{2}}")
# A symbol-only token that only draws: a column bar ("|"), a border piece ("+----+"), a rule ("-----")
LAYOUT_TOKEN_RE = re.compile(rf"[{_LAYOUT}]*[|\u2502\u2503\u2551][{_LAYOUT}]*|[{_LAYOUT}]{{3,}}")
PARAGRAPH_SPLIT_RE = re.compile(r"\n{2,}")
LINE_SPLIT_RE = re.compile(r"\n+")

# Sentence-final punctuation, Latin (C4: . ? ! " ') and CJK (。！？；… and closing quotes).
LATIN_TERMINAL = (".", "?", "!", '"', "'")
CJK_TERMINAL = ("。", "！", "？", "；", "…", "”", "」", "』", "）")
TERMINAL_PUNCTUATION = LATIN_TERMINAL + CJK_TERMINAL
SENTENCE_END_RE = re.compile(r"[.?!。！？；…]+(?=\s|$|[\"'”」』）])|[。！？；]")

_DIGITS_UNDERSCORE = "0123456789_"
_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio multiplier: spreads n-gram hashes


def normalized_words(text: str) -> str:
    """Space-separated model tokens (CCNet-style: lower case, digits → 0, CJK by character):
    the input format of the KenLM and fastText models, which split on whitespace."""
    return " ".join(WORD_RE.findall(DIGIT_RE.sub("0", text.lower())))


def duplicate_counts(items: list[str]) -> tuple[int, int]:
    """(number of items seen before, characters in those repeats) — Gopher's duplicate figures."""
    seen: set[str] = set()
    dup_items = dup_chars = 0
    for item in items:
        if item in seen:
            dup_items += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup_items, dup_chars


class TextStats:
    """Lazily computed views of one document's text; each view is computed at most once."""

    def __init__(self, text: str, cjk_threshold: float = CJK_SHARE):
        self.text = text
        self.n_chars = len(text)
        self._cjk_threshold = cjk_threshold
        self._ngram_cache: dict[int, np.ndarray] = {}
        self._no_repeats_from: int | None = None

    @cached_property
    def n_non_space(self) -> int:
        return len(self.text) - sum(self.text.count(c) for c in " \n\t\r\f\v")

    @cached_property
    def n_cjk(self) -> int:
        """CJK characters in the text; each is one word (WORD_RE's first alternative)."""
        return len(CJK_CHAR_RE.findall(self.text))

    @cached_property
    def cjk_fraction(self) -> float:
        """Share of non-space characters that are CJK (decides the Chinese-aware rule variants)."""
        return self.n_cjk / self.n_non_space if self.n_non_space else 0.0

    @property
    def is_cjk(self) -> bool:
        return self.cjk_fraction >= self._cjk_threshold

    @cached_property
    def lines(self) -> list[str]:
        """Lines as written (``str.splitlines``), blank ones included."""
        return self.text.splitlines()

    @cached_property
    def stripped_nonempty_lines(self) -> list[str]:
        return [s for s in (line.strip() for line in self.lines) if s]

    @cached_property
    def line_runs(self) -> list[str]:
        """Lines split on runs of newlines (Gopher's line unit: blank lines do not count)."""
        return LINE_SPLIT_RE.split(self.text)

    @cached_property
    def paragraphs(self) -> list[str]:
        return PARAGRAPH_SPLIT_RE.split(self.text.strip())

    @cached_property
    def _draws(self) -> bool:
        """Whether the text can hold table drawing: three drawing characters in a row (spaces between them
        allowed), needed by a drawing line and by every drawing token but a bare column bar."""
        return _LAYOUT_RUN_RE.search(self.text) is not None

    @cached_property
    def _layout_lines(self) -> list[str]:
        """The lines (``line_runs``) that only draw a table or a rule."""
        if not self._draws:
            return []
        return [line for line in self.line_runs if LAYOUT_LINE_RE.fullmatch(line)]

    @cached_property
    def content_line_runs(self) -> list[str]:
        """``line_runs`` without table drawing (a rendered table draws one identical rule per row); all of them
        when every line draws (there is no text to tell apart from its layout)."""
        if not self._layout_lines or len(self._layout_lines) == len(self.line_runs):
            return self.line_runs
        return [line for line in self.line_runs if not LAYOUT_LINE_RE.fullmatch(line)]

    @cached_property
    def content_paragraphs(self) -> list[str]:
        """``paragraphs`` without those that only draw (a rule between sections), on the same terms."""
        if not self._layout_lines:
            return self.paragraphs
        kept = [p for p in self.paragraphs if not all(LAYOUT_LINE_RE.fullmatch(line) for line in p.split("\n"))]
        return kept or self.paragraphs

    @cached_property
    def n_content_chars(self) -> int:
        """Characters of the text without its drawing lines (each with its line break); ``n_chars`` when
        ``content_line_runs`` keeps every line."""
        if self.content_line_runs is self.line_runs:
            return self.n_chars
        return max(1, self.n_chars - sum(len(line) + 1 for line in self._layout_lines))

    @cached_property
    def words(self) -> list[str]:
        """Word tokens without pure-punctuation tokens (CJK: one character per word)."""
        return WORD_RE.findall(self.text)

    @cached_property
    def n_symbol_tokens(self) -> int:
        """Symbol-only tokens ("->", "==", "•"), not counting those that draw a table (``LAYOUT_TOKEN_RE``)."""
        tokens = SYMBOL_TOKEN_RE.findall(self.text)
        if not tokens or not (self._draws or any(bar in self.text for bar in "|\u2502\u2503\u2551")):
            return len(tokens)
        return sum(1 for t in tokens if not LAYOUT_TOKEN_RE.fullmatch(t))

    @property
    def n_tokens(self) -> int:
        """Words plus symbol-only tokens (Gopher's whitespace-delimited words), table drawing left out: the
        denominator of Gopher's per-word ratios."""
        return len(self.words) + self.n_symbol_tokens

    @cached_property
    def n_alpha_words(self) -> int:
        """Words with at least one letter (word tokens are \\w runs: digits/_ only means no letter)."""
        return sum(1 for w in self.words if w.strip(_DIGITS_UNDERSCORE))

    @cached_property
    def mean_word_length(self) -> float:
        """Mean length of the space-delimited (non-CJK) words: Gopher's rule is about those, and a CJK
        character, one word of length 1 here, would pull a mixed document (Chinese prose around English
        commands) under its 3-character minimum. All words when the text has no CJK character."""
        words = self.words
        n_cjk = self.n_cjk  # one-character words, every one of them (WORD_RE)
        n = len(words) - n_cjk
        return (sum(map(len, words)) - n_cjk) / n if n > 0 else 0.0

    @cached_property
    def n_sentences(self) -> int:
        return len(SENTENCE_END_RE.findall(self.text))

    # ---- n-gram repetition, vectorised ----------------------------------------------------

    @cached_property
    def _word_hashes(self) -> np.ndarray:
        numbers: dict[str, int] = {}
        ids = [numbers.setdefault(w, len(numbers)) for w in self.words]  # first-occurrence number per word
        return mix64(np.fromiter(ids, dtype=np.uint64, count=len(ids)))

    @cached_property
    def _word_lengths(self) -> np.ndarray:
        return np.fromiter(map(len, self.words), dtype=np.int64, count=len(self.words))

    def ngram_hashes(self, n: int) -> np.ndarray:
        """Hash of every word n-gram (position i covers words i..i+n-1), by a rolling product;
        built on the longest shorter n-gram already computed."""
        h = self._word_hashes
        if len(h) < n:
            return np.empty(0, dtype=np.uint64)
        if n in self._ngram_cache:
            return self._ngram_cache[n]
        k = max((m for m in self._ngram_cache if m < n), default=1)
        out = self._ngram_cache[k] if k > 1 else h
        with np.errstate(over="ignore"):
            for m in range(k + 1, n + 1):
                out = out[: len(h) - m + 1] * _HASH_MULT + h[m - 1 :]
                self._ngram_cache[m] = out
        return out

    def top_ngram_chars(self, n: int) -> int:
        """Characters covered by the most frequent n-gram (joined with spaces) times its count;
        0 when no n-gram occurs twice (a unique n-gram is not repetition, however short the text). Among
        equally frequent n-grams the one that occurs first counts, so the figure depends on the text only."""
        hashes = self.ngram_hashes(n)
        if len(hashes) == 0:
            return 0
        _, first, counts = np.unique(hashes, return_index=True, return_counts=True)
        top = counts.max()
        if top < 2:
            return 0
        start = int(first[counts == top].min())  # ties: the n-gram that occurs first (DataTrove's most_common)
        ngram_len = int(self._word_lengths[start : start + n].sum()) + n - 1
        return ngram_len * int(top)

    def duplicate_ngram_chars(self, n: int) -> int:
        """Characters of words inside repeated n-grams (every occurrence after the first), each
        word counted once even where repeats overlap — Gopher's "duplicate n-gram" fraction."""
        if self._no_repeats_from is not None and n >= self._no_repeats_from:
            return 0  # no repeated m-gram implies no repeated longer n-gram
        hashes = self.ngram_hashes(n)
        if len(hashes) == 0:
            return 0
        _, first = np.unique(hashes, return_index=True)
        if len(first) == len(hashes):
            self._no_repeats_from = n
            return 0
        is_repeat = np.ones(len(hashes), dtype=bool)
        is_repeat[first] = False
        # cover words [i, i+n) of each repeat start via a difference array
        cover = np.zeros(len(self._word_lengths) + 1, dtype=np.int32)
        starts = np.flatnonzero(is_repeat)
        np.add.at(cover, starts, 1)
        np.add.at(cover, starts + n, -1)
        covered = np.cumsum(cover[:-1]) > 0
        return int(self._word_lengths[covered].sum())
