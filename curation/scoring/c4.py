"""C4 page rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning", §2.2).

C4 keeps only lines that end in terminal punctuation and have enough words, drops lines
mentioning javascript or a cookie/terms policy, and drops the page if it contains "lorem
ipsum", a curly bracket, or too few sentences remain. This stage scores and does not rewrite
text, so the line-level removals only decide how many sentences survive; the curly-bracket
rule looks at surviving lines, as DataTrove's C4QualityFilter does (the paper's page-wide
version would drop every Python doc page with a dict literal).
Chinese-aware: CJK terminal punctuation (。！？；… and closing quotes) ends a line, and a CJK
character counts as a word.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from curation.scoring.rules import Failure, RuleSet, below
from curation.scoring.text_stats import (
    SENTENCE_END_RE,
    TERMINAL_PUNCTUATION,
    WORD_RE,
    TextStats,
)

CITATION_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")  # C4 removes Wikipedia citation marks
# C4's policy strings, plus their common Chinese equivalents (our addition).
POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
    "隐私政策",
    "使用条款",
    "用户协议",
)


@dataclass(frozen=True)
class C4Config:
    min_words_per_line: int = 3  # C4 §2.2: "only retained lines that contained at least 3 words"
    min_sentences: int | None = 5  # C4 §2.2: "discarded any page with fewer than 5 sentences"
    max_word_length: int = 1000  # C4 §2.2 / DataTrove: lines with a word over 1000 chars are removed
    drop_lorem_ipsum: bool = True  # C4 §2.2: pages with "lorem ipsum" are placeholder text
    drop_curly_bracket: bool = True  # C4 §2.2: "{" signals code
    remove_javascript_lines: bool = True  # C4 §2.2: "javascript" warnings
    remove_policy_lines: bool = True  # C4 §2.2: cookie / terms-of-use boilerplate


def check(stats: TextStats, cfg: C4Config) -> Iterator[Failure]:
    n_sentences = 0
    for line in stats.stripped_nonempty_lines:
        line = CITATION_RE.sub("", line)
        if not line.endswith(TERMINAL_PUNCTUATION) or line.endswith("..."):
            continue
        words = WORD_RE.findall(line)
        if len(words) < cfg.min_words_per_line or max(map(len, words)) > cfg.max_word_length:
            continue
        lower = line.lower()
        if cfg.drop_lorem_ipsum and "lorem ipsum" in lower:
            yield Failure("c4:lorem_ipsum", 1, 0)
            return
        if cfg.remove_javascript_lines and "javascript" in lower:
            continue
        if cfg.drop_curly_bracket and "{" in line:
            yield Failure("c4:curly_bracket", 1, 0)
            return
        if cfg.remove_policy_lines and any(p in lower for p in POLICY_SUBSTRINGS):
            continue
        n_sentences += max(1, len(SENTENCE_END_RE.findall(line)))
    failure = below("c4:min_sentences", n_sentences, cfg.min_sentences)
    if failure is not None:
        yield failure


RULE_SET = RuleSet("c4", C4Config, check)
