"""FineWeb quality rules (Penedo et al. 2024, "The FineWeb Datasets", §3.5 custom filters).

Chinese-aware: CJK terminal punctuation ends a line, and a CJK line is "short" at fewer
characters (a CJK character carries roughly what 2-3 Latin characters do).
"""

from collections.abc import Iterator
from dataclasses import dataclass

from curation.scoring.rules import Failure, RuleSet, above, below, failures
from curation.scoring.text_stats import (
    CJK_CHAR_RE,
    TERMINAL_PUNCTUATION,
    TextStats,
    duplicate_counts,
)


@dataclass(frozen=True)
class FineWebConfig:
    min_line_punct_ratio: float | None = 0.12  # FineWeb §3.5: ≥ 12 % of lines end in punctuation
    max_short_line_ratio: float | None = 0.67  # FineWeb §3.5: ≤ 67 % of lines shorter than 30 chars
    short_line_length: int = 30  # FineWeb §3.5
    short_line_length_cjk: int = 12  # our choice: ~30 Latin chars of content in CJK characters
    max_dup_line_char_ratio: float | None = 0.1  # FineWeb §3.5: chars in duplicated lines ≤ 10 %
    max_list_ratio: float | None = 0.3  # FineWeb / DataTrove: newlines per word ≤ 0.3 (list-like pages)
    # CJK words are counted as characters; a Chinese word is ~1.7 characters (measured on People's Daily,
    # gopher_repetition.py), so newlines per word = newlines per character × this
    cjk_chars_per_word: float = 1.7


def check(stats: TextStats, cfg: FineWebConfig) -> Iterator[Failure]:
    lines = [line for line in stats.text.split("\n") if line.strip()]
    if not lines:
        yield Failure("fineweb:empty", 0, 1)
        return
    n_lines = len(lines)
    punct_ratio = sum(1 for line in lines if line.endswith(TERMINAL_PUNCTUATION)) / n_lines
    short = cfg.short_line_length_cjk if stats.is_cjk else cfg.short_line_length
    if stats.is_cjk:  # count CJK characters, the unit the threshold is in
        short_ratio = sum(1 for line in lines if len(CJK_CHAR_RE.findall(line)) <= short) / n_lines
    else:
        short_ratio = sum(1 for line in lines if len(line) <= short) / n_lines
    non_newline_chars = stats.n_chars - stats.text.count("\n")
    dup_char_ratio = duplicate_counts(lines)[1] / max(1, non_newline_chars)
    n_words = len(stats.words)
    words_equiv = n_words / cfg.cjk_chars_per_word if stats.is_cjk else n_words
    list_ratio = stats.text.count("\n") / words_equiv if n_words else float("inf")
    yield from failures(
        below("fineweb:line_punct_ratio", punct_ratio, cfg.min_line_punct_ratio),
        above("fineweb:short_line_ratio", short_ratio, cfg.max_short_line_ratio),
        above("fineweb:dup_line_char_ratio", dup_char_ratio, cfg.max_dup_line_char_ratio),
        above("fineweb:list_ratio", list_ratio, cfg.max_list_ratio),
    )


RULE_SET = RuleSet("fineweb", FineWebConfig, check)
