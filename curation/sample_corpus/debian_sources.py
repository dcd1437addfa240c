"""English and Chinese documentation from Debian packages (OFFLINE.md), used only when installed: the
Python reST docs, the Debian Reference and the Debian Administrator's Handbook.

``root`` is the filesystem root the packages live under (``/`` normally; a test or a user with an
unpacked ``.deb`` tree points it elsewhere).
"""

import gzip
import html.parser
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

from curation.cjk import CJK_CHAR_RE
from curation.document import SkipCounter
from curation.sample_corpus.provenance import SampleDoc, SourceUnavailable, debian_provenance
from curation.sample_corpus.python_sources import MAX_FILE_BYTES

PYTHON_DOC_PACKAGE = f"python{sys.version_info.major}.{sys.version_info.minor}-doc"
PYTHON_DOC_SOURCES = f"usr/share/doc/python{sys.version_info.major}.{sys.version_info.minor}/html/_sources"
DEBIAN_REFERENCE = "usr/share/debian-reference/debian-reference.{lang}.txt.gz"
# A Debian Reference section shorter than this is a table caption or a bare heading.
MIN_SECTION_CHARS = 200
# Level-2 section headings start at column 0: "1.1. Console basics", "A.2. ..." (appendix).
_SECTION_HEADING = re.compile(r"^(?:\d+|[A-Z])\.\d+\.\s+\S")


def _not_installed(package: str, path: Path) -> SourceUnavailable:
    return SourceUnavailable(f"Debian package {package} is not installed ({path} not found; apt-get install {package})")


def python_doc_rst(skips: SkipCounter, *, root: Path = Path("/")) -> Iterator[SampleDoc]:
    """The reStructuredText sources of the Python documentation, one document per page."""
    base = root / PYTHON_DOC_SOURCES
    if not base.is_dir():
        raise _not_installed(PYTHON_DOC_PACKAGE, base)
    # python3.x-doc's copyright file is free-form; the documentation is under the PSF licence.
    prov = debian_provenance(root, PYTHON_DOC_PACKAGE, fallback_license="PSF-2.0")
    return _rst_pages(base, root, prov, skips)


def _rst_pages(base: Path, root: Path, prov, skips: SkipCounter) -> Iterator[SampleDoc]:
    for path in sorted(base.rglob("*.rst.txt")):
        rel = path.relative_to(root).as_posix()
        if path.stat().st_size > MAX_FILE_BYTES:  # library/stdtypes is the one page over the cap
            skips.add("file_too_large", rel, None, f"{path.stat().st_size} bytes > {MAX_FILE_BYTES}")
            continue
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            skips.add("empty_text", rel, None)
            continue
        page = path.relative_to(base).as_posix().removesuffix(".rst.txt")
        yield prov.doc(f"en_docs:python-doc/{page}", text, rel)


def debian_reference(lang: str, category: str, skips: SkipCounter, *, root: Path = Path("/")) -> Iterator[SampleDoc]:
    """The Debian Reference (plain-text edition) in ``lang`` (``en``, ``zh-cn``), one document per section."""
    package = f"debian-reference-{lang}"
    path = root / DEBIAN_REFERENCE.format(lang=lang)
    if not path.is_file():
        raise _not_installed(package, path)
    prov = debian_provenance(root, package, fallback_license="GPL-2+")
    return _reference_sections(path, root, lang, category, prov, skips)


def _reference_sections(
    path: Path, root: Path, lang: str, category: str, prov, skips: SkipCounter
) -> Iterator[SampleDoc]:
    rel = path.relative_to(root).as_posix()
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
    for number, (heading, body) in enumerate(split_reference_sections(lines)):
        text = f"{heading}\n\n{body}".strip()
        if len(text) < MIN_SECTION_CHARS:
            skips.add("too_short", rel, None, heading[:80])
            continue
        section = heading.split()[0].rstrip(".")
        yield prov.doc(f"{category}:debian-reference.{lang}/{number:04d}-{section}", text, rel)


def split_reference_sections(lines: list[str]) -> Iterator[tuple[str, str]]:
    """(heading, dedented body) per level-2 section of the book's body, the contents list removed.

    The book opens with a title block, a rule of dashes, then a contents heading ("Table of
    Contents", "目录") whose first entry ("Preface") reappears at column 0 where the body begins.
    Chapters carry no numbered level-2 heading of their own, so a chapter's title and introduction
    stay at the end of the section before it.
    """
    lines = [line.replace("\xa0", " ") for line in lines]  # the text dump indents with no-break spaces
    try:
        rule = next(i for i, line in enumerate(lines) if re.fullmatch(r"-{20,}", line))
        toc_heading, first_entry = [line for line in lines[rule + 1 :] if line.strip()][:2]
        start = lines.index(first_entry, lines.index(first_entry, rule + 1) + 1)
    except (StopIteration, ValueError) as exc:
        raise ValueError("unrecognised Debian Reference text layout (no contents block before the body)") from exc
    heading, body, toc_lines = first_entry, [], 0
    for line in lines[start + 1 :]:
        if line == toc_heading or (toc_lines and (line.strip() or toc_lines == 1)):
            toc_lines += 1  # the heading, blank lines after it, then the entries up to the next blank
            continue
        toc_lines = 0
        if _SECTION_HEADING.match(line):
            yield heading, textwrap.dedent("\n".join(body)).strip()
            heading, body = line.strip(), []
        else:
            body.append(line)
    yield heading, textwrap.dedent("\n".join(body)).strip()


DEBIAN_HANDBOOK = "usr/share/doc/debian-handbook/html/{lang}"
# A handbook page with fewer paragraphs in its own language than this is a chapter's title page, an
# index or a page left untranslated.
MIN_HANDBOOK_PARAGRAPHS = 5


class _HandbookPage(html.parser.HTMLParser):
    """The text of a handbook page's ``div.para`` blocks (its prose) and of its table-of-contents links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.toc: list[str] = []
        self._depth = 0  # nesting of divs inside a para div
        self._buf: list[str] = []
        self._in_toc = 0
        self._link: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag == "div":
            if self._depth:
                self._depth += 1
            elif cls == "para":
                self._depth, self._buf = 1, []
        if tag in ("div", "dl") and cls == "toc":
            self._in_toc += 1
        if tag == "a" and self._in_toc:
            self._link = []

    def handle_endtag(self, tag):
        if tag == "div" and self._depth:
            self._depth -= 1
            if not self._depth and (text := " ".join("".join(self._buf).split())):
                self.paragraphs.append(text)
        if tag == "a" and self._link is not None:
            if text := " ".join("".join(self._link).split()):
                self.toc.append(text)
            self._link = None

    def handle_data(self, data):
        if self._depth:
            self._buf.append(data)
        if self._link is not None:
            self._link.append(data)


def handbook_pages(lang: str, *, root: Path = Path("/")) -> Iterator[tuple[str, list[str], list[str]]]:
    """(page name, paragraphs, table-of-contents entries) of each page of the Debian Administrator's
    Handbook in ``lang`` (``en-US``, ``zh-CN``, ``zh-TW`` …)."""
    base = root / DEBIAN_HANDBOOK.format(lang=lang)
    if not base.is_dir():
        raise _not_installed("debian-handbook", base)
    for path in sorted(base.glob("*.html")):
        page = _HandbookPage()
        page.feed(path.read_text(encoding="utf-8", errors="replace"))
        yield path.stem, page.paragraphs, page.toc


def debian_handbook(lang: str, category: str, skips: SkipCounter, *, root: Path = Path("/")) -> Iterator[SampleDoc]:
    """The Debian Administrator's Handbook in ``lang``, one document per section page: its paragraphs in
    the page's language (translated pages keep a few English paragraphs; those are left out)."""
    pages = handbook_pages(lang, root=root)
    prov = debian_provenance(root, "debian-handbook", fallback_license="GPL-2+ OR CC-BY-SA-3.0")
    chinese = lang.startswith("zh")
    for name, paragraphs, _ in pages:
        keep = [p for p in paragraphs if (len(CJK_CHAR_RE.findall(p)) >= 0.3 * len(p.replace(" ", ""))) == chinese]
        rel = f"{DEBIAN_HANDBOOK.format(lang=lang)}/{name}.html"
        if not name.startswith("sect.") or len(keep) < MIN_HANDBOOK_PARAGRAPHS:
            skips.add("too_short", rel, None, f"{len(keep)} paragraphs")
            continue
        yield prov.doc(f"{category}:debian-handbook.{lang}/{name}", "\n\n".join(keep), rel)
