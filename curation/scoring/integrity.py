"""Text-integrity rules: documents that are not text a person wrote, whatever the language or kind.

The paper rule sets (Gopher, C4, FineWeb) were designed for web pages and judge prose by its shape;
short good paragraphs fail them while some machine output passes. These rules look for what junk
*is* instead, so every profile (prose, code, math, short or long) can run them hard:

- mojibake: UTF-8 read as Latin-1/cp1252 ("è¿\x99ä¸ª", "itâ€™s"); measured with ftfy's badness
  heuristic (Speer, ftfy 6), per character;
- encoded blobs: base64 / hex runs (inline images, keys, dumps) covering a share of the text;
- markup source: roff/mdoc macro lines (man-page sources) or HTML tags covering a share of the lines;
- log lines: lines that open with a timestamp (system and application logs).
Thresholds are our choice, checked on bench/scoring's labelled set (bench/README.md, Scoring).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from curation.scoring.rules import Failure, RuleSet, above, failures
from curation.scoring.text_stats import TextStats

BLOB_RE = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}|(?:0x)?[0-9a-fA-F]{32,}")
ROFF_LINE_RE = re.compile(
    r"^\.(?:TH|SH|SS|S[Hh]|PP|LP|P|TP|IP|HP|RS|RE|B|I|BR|BI|IR|IB|RB|RI|SM|SB|nf|fi|br|sp|in|ti|ft|ps|ad|na|de|ds|"
    r"TS|TE|EX|EE|UR|UE|Dd|Dt|Os|Nm|Nd|Op|Fl|Ar|Xr|It|Bl|El|Pp|Sh|Ss|Pa|Ev|Cm|Ic|Li|Em|\\\")(?:\s|$)"
)
HTML_TAG_RE = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
TIMESTAMP_LINE_RE = re.compile(
    r"^\s*[\[(]?(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/]\d{1,2}[-/]\d{2,4}|"
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{1,2})[ T]\d{1,2}:\d{2}"
)


@dataclass(frozen=True)
class IntegrityConfig:
    # ftfy badness matches per character; clean text scores 0, one mangled "’" in 60 characters 0.017,
    # a fully mangled Chinese paragraph ~0.5
    max_mojibake_per_char: float | None = 0.01
    max_blob_char_frac: float | None = 0.3  # base64/hex runs of >= 40/32 characters
    max_markup_line_frac: float | None = 0.3  # roff macro or HTML-tag lines among non-empty lines
    max_log_line_frac: float | None = 0.5  # lines that start with a date and a time


def mojibake_per_char(text: str) -> float:
    from ftfy.badness import badness  # lazy: ftfy compiles its big regex on import

    return badness(text) / max(1, len(text))


def check(stats: TextStats, cfg: IntegrityConfig) -> Iterator[Failure]:
    text = stats.text
    if not text:
        return
    if cfg.max_mojibake_per_char is not None:
        yield from failures(above("integrity:mojibake", mojibake_per_char(text), cfg.max_mojibake_per_char))
    if cfg.max_blob_char_frac is not None:
        blob_chars = sum(len(m) for m in BLOB_RE.findall(text))
        yield from failures(above("integrity:encoded_blob", blob_chars / len(text), cfg.max_blob_char_frac))
    lines = stats.stripped_nonempty_lines
    if not lines:
        return
    if cfg.max_markup_line_frac is not None:
        markup = sum(1 for line in lines if ROFF_LINE_RE.match(line) or HTML_TAG_RE.search(line))
        yield from failures(above("integrity:markup_source", markup / len(lines), cfg.max_markup_line_frac))
    if cfg.max_log_line_frac is not None:
        logs = sum(1 for line in lines if TIMESTAMP_LINE_RE.match(line))
        yield from failures(above("integrity:log_lines", logs / len(lines), cfg.max_log_line_frac))


RULE_SET = RuleSet("integrity", IntegrityConfig, check)
