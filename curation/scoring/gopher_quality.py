"""Gopher quality rules (Rae et al. 2021, "Scaling Language Models", appendix A.1.1 / MassiveWeb).

Gopher measured MassiveWeb pages (50..100,000 words): its line shares (bullets, ellipsis endings) are
judged here from ``line_shares_from_lines`` lines, since on a one-line review ending in "..." the share is 1
by construction. Table drawing ("|", "+----+": TextStats.n_tokens) is not a word: Gopher's text came from
HTML, where a table is the words of its cells.

Chinese-aware: a CJK character is one word (TextStats), the mean-word-length rule is skipped
for CJK documents (every character has length 1), and stop words come from a Chinese list.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from curation.scoring.rules import Failure, RuleSet, above, below, failures
from curation.scoring.text_stats import TextStats

# Gopher: "the, be, to, of, and, that, have, with" (A.1.1).
EN_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
# Our choice for zh: the most frequent function characters of modern written Chinese.
ZH_STOP_WORDS = frozenset({"的", "了", "是", "在", "和", "有", "也", "不", "这", "就", "与", "为"})


@dataclass(frozen=True)
class GopherQualityConfig:
    min_doc_words: int | None = 50  # Gopher A.1.1: 50..100,000 words
    max_doc_words: int | None = 100_000  # Gopher A.1.1
    min_mean_word_length: float | None = 3  # Gopher A.1.1: mean word length 3..10 characters
    max_mean_word_length: float | None = 10  # Gopher A.1.1
    max_hash_ratio: float | None = 0.1  # Gopher A.1.1: symbol-to-word ratio ≤ 0.1 for "#"
    max_ellipsis_ratio: float | None = 0.1  # Gopher A.1.1: ... and "…" per word ≤ 0.1
    max_bullet_lines_ratio: float | None = 0.9  # Gopher A.1.1: ≤ 90 % of lines start with a bullet
    max_ellipsis_lines_ratio: float | None = 0.3  # Gopher A.1.1: ≤ 30 % of lines end with an ellipsis
    min_alpha_words_ratio: float | None = 0.8  # Gopher A.1.1: ≥ 80 % of words contain a letter
    min_stop_words: int | None = 2  # Gopher A.1.1: at least two of the stop words
    # the line shares above are judged from this many lines: 1 / 0.3 rounded up, the fewest lines at which
    # one line ending in an ellipsis is within Gopher's 30 % (a page statistic; below it one line decides)
    line_shares_from_lines: int = 4


def check(stats: TextStats, cfg: GopherQualityConfig) -> Iterator[Failure]:
    n_words = len(stats.words)
    yield from failures(
        below("gopher_quality:min_doc_words", n_words, cfg.min_doc_words),
        above("gopher_quality:max_doc_words", n_words, cfg.max_doc_words),
    )
    if n_words == 0:
        return
    if not stats.is_cjk:
        yield from failures(
            below("gopher_quality:mean_word_length", stats.mean_word_length, cfg.min_mean_word_length),
            above("gopher_quality:mean_word_length", stats.mean_word_length, cfg.max_mean_word_length),
        )
    text, n_tokens = stats.text, stats.n_tokens
    yield from failures(
        above("gopher_quality:hash_ratio", text.count("#") / n_tokens, cfg.max_hash_ratio),
        above(
            "gopher_quality:ellipsis_ratio", (text.count("...") + text.count("…")) / n_tokens, cfg.max_ellipsis_ratio
        ),
    )
    lines = stats.lines
    if len(lines) >= max(1, cfg.line_shares_from_lines):
        bullets = sum(1 for line in lines if line.lstrip().startswith(("•", "-", "*", "·")))
        ellipsis_ends = sum(1 for line in lines if line.rstrip().endswith(("...", "…")))
        yield from failures(
            above("gopher_quality:bullet_lines_ratio", bullets / len(lines), cfg.max_bullet_lines_ratio),
            above("gopher_quality:ellipsis_lines_ratio", ellipsis_ends / len(lines), cfg.max_ellipsis_lines_ratio),
        )
    yield from failures(
        below("gopher_quality:alpha_words_ratio", stats.n_alpha_words / n_tokens, cfg.min_alpha_words_ratio)
    )
    if cfg.min_stop_words is not None:
        stop_words = ZH_STOP_WORDS if stats.is_cjk else EN_STOP_WORDS
        n_stop = _count_stop_words(stats.words, stop_words, cfg.min_stop_words)
        yield from failures(below("gopher_quality:stop_words", n_stop, cfg.min_stop_words))


def _count_stop_words(words: list[str], stop_words: frozenset[str], enough: int) -> int:
    """Stop words counted until ``enough`` are found (the rule only needs that many)."""
    found = 0
    for w in words:
        if w in stop_words or w.lower() in stop_words:
            found += 1
            if found >= enough:
                break
    return found


RULE_SET = RuleSet("gopher_quality", GopherQualityConfig, check)
