"""Text-integrity rules: documents that are not text a person wrote, whatever the language or kind.

The paper rule sets (Gopher, C4, FineWeb) were designed for web pages and judge prose by its shape;
short good paragraphs fail them while some machine output passes. These rules look for what junk
*is* instead, so every profile (prose, code, math, short or long) can run them hard:

- mojibake: text decoded with the wrong codec, three ways it shows (``mojibake_share``):
  UTF-8 read as Latin-1/cp1252 ("è¿\\x99ä¸ª", "itâ€™s": ftfy's badness heuristic, Speer, ftfy 6, per
  non-ASCII character, since the damage is confined to those), UTF-8 read as GBK ("鍙戝竷浜"), whose
  characters fall outside the common hanzi of GB 2312 level 1 and Big5 level 1 (the frequency-ordered
  sets the standards define; level 1 of GB 2312 alone covers ~99.7 % of modern Chinese text), and
  bytes that did not decode at all (U+FFFD replacement characters);
- encoded blobs: base64 / hex runs (inline images, keys, dumps) covering a share of the text;
- roff source: roff/mdoc requests and font escapes (man-page sources) on a share of the lines (prose
  has none), and markup source: HTML tags on a larger share (a page about HTML quotes some);
- log lines: lines that open with a timestamp (system and application logs);
- lists without sentences: many lines, hardly any of them holding a sentence end, and hardly any
  function words (word lists, navigation and headline lists, package listings). Each alone is not
  enough: hard-wrapped prose has few line-final periods, and classical poems have no function words.

Thresholds are set between the junk and the good text of bench/scoring's labelled tuning part and
checked on its held-out part (bench/README.md, "Scoring on a user's corpus"); each figure is below.
"""

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from curation.scoring.rules import Failure, RuleSet, above, failures
from curation.scoring.text_stats import TextStats

BLOB_RE = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}|(?:0x)?[0-9a-fA-F]{32,}")
# A roff request line: a control character, then a one- or two-letter request or macro name
# (man(7), mdoc(7) and the troff requests: .TH .SH .B .IP .nf .Dd .Nm …) or a comment (.\").
ROFF_LINE_RE = re.compile(r"^[.'][ \t]*(?:[A-Za-z][A-Za-z0-9]?|\\\")(?:[ \t]|$)")
# Inline roff escapes: font changes (\fB \fI \fR \fP \f(CW \f[B]), special characters (\(em \[u2014]) and
# strings (\*(Tm); not \- or \&, which regular expressions and shell text use too.
ROFF_ESCAPE_RE = re.compile(r"\\f[BIRP1-4(\[]|\\\([a-zA-Z]{2}|\\\[[a-zA-Z0-9_]+\]|\\\*[(\[]?\w")
HTML_TAG_RE = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
# Necessary conditions, searched once over the whole text, before the per-line counts: a stripped line can
# only match ROFF_LINE_RE / TIMESTAMP_LINE_RE where the same characters follow whitespace (or open the text).
# A text without them skips the per-line loop (its count is 0); one with them is counted line by line.
_ROFF_ANYWHERE_RE = re.compile(r"(?:^|(?<=\s))[.'][ \t]*(?:[A-Za-z][A-Za-z0-9]?|\\\")(?=\s|$)|"
                               r"\\f[BIRP1-4(\[]|\\\([a-zA-Z]{2}|\\\[[a-zA-Z0-9_]+\]|\\\*[(\[]?\w")
_TIMESTAMP = (r"[\[(]?(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/]\d{1,2}[-/]\d{2,4}|"
              r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{1,2})[ T]\d{1,2}:\d{2}")
TIMESTAMP_LINE_RE = re.compile(r"^\s*" + _TIMESTAMP)
_TIMESTAMP_ANYWHERE_RE = re.compile(r"(?:^|(?<=\s))" + _TIMESTAMP)
# A blob is a run of >= 32 characters of this class (hex is inside it): the cheap test before BLOB_RE
_BLOB_RUN_RE = re.compile(r"[A-Za-z0-9+/]{32}")
# Han characters (not kana or Hangul, which no hanzi standard lists: Japanese and Korean text is not rare
# hanzi): the unified ideographs, extension A, the compatibility block and the supplementary planes
HAN_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
# UTF-8 misread as Latin-1/cp1252 always yields a character in U+00C2..U+00F4 (the lead byte of every
# multi-byte sequence); text without one cannot carry that mojibake, and ftfy's regex is skipped.
LATIN1_LEAD_RE = re.compile("[\u00c2-\u00f4]")
# A sentence end inside a line: Latin . ? ! after a letter (not "1.2." numbering) before a space, a
# quote or the line end; CJK 。！？ anywhere.
LINE_SENTENCE_END_RE = re.compile(r"(?<=[^\W\d_])[.?!]+(?=[\s\"')\]”’]|$)|[。！？]")
# Function words (our choice: the most frequent English function words, and the structural particles,
# pronouns, prepositions and conjunctions of modern written Chinese). Running text of either language
# has them on >= 10 % of its tokens; lists of names, titles and headlines have almost none.
EN_FUNCTION_WORDS = frozenset(
    ["the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "with", "be", "on", "by", "this", "are", "or", "not", "from", "at", "an", "which", "can", "but", "if", "has", "have", "was", "were", "will", "its", "their", "they", "you", "your", "we", "our", "all", "any", "no", "so", "than", "then", "there", "these", "those", "such", "into", "also", "may", "must", "should", "would", "more", "most", "other", "only", "one", "each", "when", "where", "how", "what", "who"])
ZH_FUNCTION_WORDS = frozenset("的了是在和有也不这就与为及或而但并被把从对以于将其中上下个们之")


@dataclass(frozen=True)
class IntegrityConfig:
    # mojibake_share: the largest of the three shares below. On the labelled tuning part every good text
    # scores 0 on ftfy and U+FFFD, and at most 0.07 on rare hanzi (Tang poems; Japanese kanji reach 0.20);
    # mis-decoded text scores >= 0.24 on ftfy per non-ASCII character, >= 0.63 rare hanzi (UTF-8 as GBK)
    # or >= 0.03 U+FFFD per character
    max_mojibake_share: float | None = 0.1
    mojibake_rare_hanzi_share: float = 0.4  # counts from this share of rare hanzi (Japanese text: <= 0.2)
    mojibake_min_hanzi: int = 20  # the rare-hanzi share needs this many CJK characters to mean anything
    max_blob_char_frac: float | None = 0.3  # base64/hex runs of >= 40/32 characters
    # roff request or escape lines among non-empty lines: tuning part, good text <= 0.01 (a LaTeX tutorial),
    # man-page sources >= 0.12 (an excerpt of mostly running text), median 0.6
    max_roff_line_frac: float | None = 0.1
    max_markup_line_frac: float | None = 0.3  # lines with an HTML tag among non-empty lines
    max_log_line_frac: float | None = 0.5  # lines that start with a date and a time
    # lists without sentences: judged from this many non-empty lines (a short post is one or two lines)
    list_min_lines: int = 5
    # ... when fewer than this share of the lines holds a sentence end (tuning part: wrapped English prose
    # and Chinese poems >= 0.35 except tables; junk lists <= 0.3) ...
    list_max_sentence_line_frac: float = 0.35
    # ... and function words are fewer than this share of the words (tuning part: good prose >= 0.05,
    # lists <= 0.06, most ~0; only checked below the sentence bound). None disables the rule.
    list_min_function_word_frac: float | None = 0.1


@functools.lru_cache(maxsize=1)
def common_hanzi() -> frozenset[str]:
    """GB 2312 level 1 (3,755 hanzi, rows 16-55) and Big5 level 1 (5,401 常用字, 0xA440-0xC67E): the
    characters of ordinary simplified and traditional Chinese, read from Python's own codecs."""
    chars = set()
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            chars.add(bytes([hi, lo]).decode("gb2312", "ignore"))
    for hi in range(0xA4, 0xC7):
        for lo in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            chars.add(bytes([hi, lo]).decode("big5", "ignore"))
    chars.discard("")
    return frozenset(chars)


def mojibake_share(text: str, cfg: IntegrityConfig | None = None) -> float:
    """How much of ``text`` reads as mis-decoded, 0..1 (the largest of the three signals)."""
    cfg = cfg or IntegrityConfig()
    share = text.count("\ufffd") / max(1, len(text))
    if LATIN1_LEAD_RE.search(text):
        from ftfy.badness import badness  # lazy: ftfy compiles its big regex on import

        bad = badness(text)
        if bad:
            non_ascii = len(text) - len(text.encode("ascii", "ignore"))
            share = max(share, min(1.0, bad / max(1, non_ascii)))
    hanzi = HAN_RE.findall(text)
    if len(hanzi) >= cfg.mojibake_min_hanzi:
        common = common_hanzi()
        rare = sum(1 for c in hanzi if c not in common) / len(hanzi)
        if rare >= cfg.mojibake_rare_hanzi_share:
            share = max(share, rare)
    return share


def is_roff_line(line: str) -> bool:
    return bool(ROFF_LINE_RE.match(line) or ROFF_ESCAPE_RE.search(line))


def function_word_share(stats: TextStats) -> float:
    words = stats.words
    if not words:
        return 0.0
    if stats.is_cjk:
        return sum(1 for w in words if w in ZH_FUNCTION_WORDS) / len(words)
    return sum(1 for w in words if w.lower() in EN_FUNCTION_WORDS) / len(words)


def check(stats: TextStats, cfg: IntegrityConfig) -> Iterator[Failure]:
    text = stats.text
    if not text:
        return
    if cfg.max_mojibake_share is not None:
        yield from failures(above("integrity:mojibake", mojibake_share(text, cfg), cfg.max_mojibake_share))
    if cfg.max_blob_char_frac is not None:
        blob_chars = sum(map(len, BLOB_RE.findall(text))) if _BLOB_RUN_RE.search(text) else 0
        yield from failures(above("integrity:encoded_blob", blob_chars / len(text), cfg.max_blob_char_frac))
    lines = stats.stripped_nonempty_lines
    if not lines:
        return
    if cfg.max_roff_line_frac is not None:
        roff = sum(1 for line in lines if is_roff_line(line)) if _ROFF_ANYWHERE_RE.search(text) else 0
        yield from failures(above("integrity:roff_source", roff / len(lines), cfg.max_roff_line_frac))
    if cfg.max_markup_line_frac is not None:
        markup = sum(1 for line in lines if HTML_TAG_RE.search(line)) if "<" in text else 0
        yield from failures(above("integrity:markup_source", markup / len(lines), cfg.max_markup_line_frac))
    if cfg.max_log_line_frac is not None:
        logs = sum(1 for line in lines if TIMESTAMP_LINE_RE.match(line)) if _TIMESTAMP_ANYWHERE_RE.search(text) else 0
        yield from failures(above("integrity:log_lines", logs / len(lines), cfg.max_log_line_frac))
    if cfg.list_min_function_word_frac is not None and len(lines) >= cfg.list_min_lines:
        with_end = sum(1 for line in lines if LINE_SENTENCE_END_RE.search(line)) / len(lines)
        if with_end < cfg.list_max_sentence_line_frac:
            share = function_word_share(stats)
            if share < cfg.list_min_function_word_frac:
                yield Failure("integrity:list_without_sentences", share, cfg.list_min_function_word_frac)


RULE_SET = RuleSet("integrity", IntegrityConfig, check)
