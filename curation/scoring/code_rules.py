"""Sane rules for source code, which prose rules would destroy (no stop words, few periods).

From The Stack (Kocetkov et al. 2022, §3.2) and StarCoder (Li et al. 2023, §3): drop files
with very long lines or low alphanumeric content (minified / data / generated files), plus a
size window. Repetition is left to gopher_repetition, run soft for code in the default config.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from curation.scoring.rules import Failure, RuleSet, above, below, failures
from curation.scoring.text_stats import TextStats

_ALNUM_RUNS = re.compile(r"[^\W_]+")  # letters and digits, any script


@dataclass(frozen=True)
class CodeConfig:
    min_chars: int | None = 20  # our choice: shorter files carry no program
    max_chars: int | None = 1_000_000  # StarCoder §3: files > 1 MB are dropped
    max_line_length: int | None = 1000  # The Stack §3.2: max line length ≤ 1000
    max_mean_line_length: float | None = 100  # The Stack §3.2: average line length ≤ 100
    min_alnum_fraction: float | None = 0.25  # The Stack §3.2: alphanumeric fraction ≥ 0.25


def check(stats: TextStats, cfg: CodeConfig) -> Iterator[Failure]:
    text = stats.text
    yield from failures(
        below("code:min_chars", stats.n_chars, cfg.min_chars),
        above("code:max_chars", stats.n_chars, cfg.max_chars),
    )
    lines = stats.lines
    if not lines:
        return
    line_lengths = [len(line) for line in lines]
    alnum = sum(map(len, _ALNUM_RUNS.findall(text)))
    yield from failures(
        above("code:max_line_length", max(line_lengths), cfg.max_line_length),
        above("code:mean_line_length", sum(line_lengths) / len(lines), cfg.max_mean_line_length),
        below("code:alnum_fraction", alnum / max(1, stats.n_chars), cfg.min_alnum_fraction),
    )


RULE_SET = RuleSet("code", CodeConfig, check)
