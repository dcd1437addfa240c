"""A category's scoring profile, detected from what its documents are, never from its name.

A profile is ``<language>-<kind>-<length>``: language is ``zh`` when the sample is mostly CJK text
(curation/cjk.py) and otherwise py3langid's majority label (``en``, ``de`` …; ``und`` when no label is
confident); kind is ``code``, ``math`` or ``prose`` from per-document signals; length is ``short`` when
the median document is under ``short_below_words`` words (CJK: characters / 1.7, measured on People's
Daily). ``configs/scoring.yaml`` maps ``<kind>-<length>`` to rule sets; the Chinese-aware rule variants
switch per document, so one profile entry serves every language.
"""

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from curation.scoring import integrity
from curation.scoring.langid import LanguageId
from curation.scoring.text_stats import TextStats

# The text-integrity rules whose junk a detection sample leaves out; not the list rule (source code is
# lines without sentences too, and must vote for "code")
_INTEGRITY = integrity.IntegrityConfig(list_min_function_word_frac=None)

KINDS = ("prose", "code", "math")
LENGTHS = ("short", "long")

# A line that reads as source code: a keyword opening a statement, a brace/semicolon ending, an
# assignment or call with no sentence around it, a comment marker.
CODE_LINE_RE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import|return\b|if .*:$|for .*:$|while .*:$|elif |else:|try:|except\b|"
    r"#include|#define|function\b|var |let |const |public |private |static |package |func |fn |use |"
    r"[}{)\]]|//|/\*|\*/|@\w+)|[{;]\s*$|^\s*[\w.\[\]]+\s*[+\-*/]?=\s*\S"
)
# LaTeX or inline math: $…$, \frac, \sqrt, ^{…}, _{…}, \le, \cdot …, or arithmetic between digits. A bare
# "-" or "/" between digits is a date, a version or a path ("2024-01-05", "1.2-3", "10/20") unless spaced.
MATH_TOKEN_RE = re.compile(r"\$[^$\n]{1,200}\$|\\[a-zA-Z]{2,}|[\^_]\{|\d\s*[=<>≤≥+×÷*^]\s*\d|\d\s+[-/]\s+\d")
# Characters that are syntax in most programming languages (brackets, assignment, quotes, underscores);
# prose and tables ("|") have few. Measured on the labelled tuning part: third-party Python >= 0.08 per
# non-space character at the 10th percentile, English and Chinese prose <= 0.05 at the median.
CODE_SYMBOL_RE = re.compile(r"[{}\[\]()=;<>_'\"\\]")


@dataclass(frozen=True)
class ProfileConfig:
    sample_docs: int = 200  # documents read to decide (a salted-hash sample of the partition)
    short_below_words: float = 100  # median word count below which a category is short-form (our choice)
    code_line_share: float = 0.4  # a document is code when this share of its lines reads as code
    # ... or when this share of its lines reads as code and its syntax characters reach code_symbol_share
    # (code with long docstrings, comments or data tables: a Pygments lexer is mostly regex tuples)
    code_line_share_with_symbols: float = 0.1
    code_symbol_share: float = 0.08
    code_doc_share: float = 0.5  # a category is code when this share of its documents is
    math_tokens_per_100_words: float = 2.0  # a document is math from this many math tokens per 100 words
    math_doc_share: float = 0.3  # a category is math when this share of its documents is
    cjk_chars_per_word: float = 1.7  # measured on People's Daily (gopher_repetition.py)
    language_share: float = 0.9  # expected languages: the labels covering this share of the sample


@dataclass(frozen=True)
class Profile:
    language: str
    kind: str
    length: str
    sample_docs: int
    languages: tuple[str, ...]  # the sample's languages covering ``language_share`` of it (expected mix)
    median_words: float
    code_share: float
    math_share: float

    @property
    def name(self) -> str:
        return f"{self.language}-{self.kind}-{self.length}"

    @property
    def rules_key(self) -> str:
        """The ``profiles:`` entry of configs/scoring.yaml that selects this profile's rule sets."""
        return f"{self.kind}-{self.length}"

    def describe(self) -> str:
        return f"profile: {self.name}, detected from {self.sample_docs} docs"

    def to_dict(self) -> dict:
        return {"name": self.name, "language": self.language, "kind": self.kind, "length": self.length,
                "sample_docs": self.sample_docs, "languages": list(self.languages),
                "median_words": round(self.median_words, 1), "code_share": round(self.code_share, 3),
                "math_share": round(self.math_share, 3)}


def is_code(stats: TextStats, cfg: ProfileConfig) -> bool:
    lines = stats.stripped_nonempty_lines
    if not lines:
        return False
    share = sum(1 for line in stats.lines if line.strip() and CODE_LINE_RE.search(line)) / len(lines)
    if share >= cfg.code_line_share:
        return True
    return share >= cfg.code_line_share_with_symbols and (
        len(CODE_SYMBOL_RE.findall(stats.text)) / max(1, stats.n_non_space) >= cfg.code_symbol_share)


def is_math(stats: TextStats, cfg: ProfileConfig) -> bool:
    words = len(stats.words)
    return bool(words) and 100 * len(MATH_TOKEN_RE.findall(stats.text)) / words >= cfg.math_tokens_per_100_words


def detect_profile(texts: Sequence[str], langid: LanguageId, cfg: ProfileConfig = ProfileConfig()) -> Profile:
    """The profile of a category from a sample of its texts (empty texts are ignored). Documents that fail
    a text-integrity rule (logs, blobs, roff, mojibake, word lists: integrity.py) do not vote: a category
    with a share of junk keeps the profile of its real documents (a log's dates are not math)."""
    texts = [t for t in texts if t and t.strip()][: cfg.sample_docs]
    if not texts:
        return Profile("und", "prose", "long", 0, (), 0.0, 0.0, 0.0)
    clean = [t for t in texts if next(integrity.check(TextStats(t), _INTEGRITY), None) is None]
    texts = clean or texts
    langs: Counter = Counter()
    words, code, math = [], 0, 0
    for text in texts:
        stats = TextStats(text)
        langs["zh" if stats.is_cjk else langid.classify(text)[0]] += 1
        words.append(len(stats.words) / (cfg.cjk_chars_per_word if stats.is_cjk else 1.0))
        code += is_code(stats, cfg)
        math += is_math(stats, cfg)
    n = len(texts)
    code_share, math_share = code / n, math / n
    kind = "code" if code_share >= cfg.code_doc_share else "math" if math_share >= cfg.math_doc_share else "prose"
    median = statistics.median(words)
    return Profile(
        language=langs.most_common(1)[0][0], kind=kind,
        length="short" if median < cfg.short_below_words else "long", sample_docs=n,
        languages=_covering(langs, cfg.language_share), median_words=median,
        code_share=code_share, math_share=math_share,
    )


def _covering(counts: Counter, share: float) -> tuple[str, ...]:
    """The most common labels until they cover ``share`` of the sample ("und" never counts as a language)."""
    total, covered, out = sum(counts.values()), 0, []
    for label, count in counts.most_common():
        if covered >= share * total:
            break
        covered += count
        if label != "und":
            out.append(label)
    return tuple(sorted(out))
