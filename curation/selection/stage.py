"""The ``selected`` stage: topic labels, quality weights, diversity selection to a budget, domain tags.

``select_partition`` reads a category's documents twice from the lake (``batches()`` is called twice):

1. each document's prefix (its first ``prefix_tokens`` tokens) is embedded into a float32 file on disk,
   and a few numbers a document are kept (id, tokens, language, score, bucket);
2. topics (``topics.py``), quality weights (``weights.py``), domain recall (``domain.py``), clusters and
   the budgeted plan (``diversity.py``) are computed over the memmapped embeddings;
3. the second read writes every selected document with the selection columns, and a drop record
   (reason ``not_selected``, detail: its weights, cluster and key) for every other one, so
   ``corpusforge why <id>`` answers for both.

Memory is bounded by a batch plus the numbers per document; embeddings live on disk.
"""

import json
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa

from curation.cjk import CJK_CLASS
from curation.document import Drop, SkipCounter, drops_to_table, validate_category
from curation.embeddings import Embedder, spill_embeddings
from curation.lake import PartitionWriter
from curation.selection.config import SelectionConfig
from curation.selection.diversity import cluster, cluster_diversity, knn_weights, plan_selection
from curation.selection.domain import read_seed_texts, recall
from curation.selection.topics import Taxonomy, TopicClassifier
from curation.selection.weights import normalised_score, quality_weights

STAGE = "selected"
NOT_SELECTED = "not_selected"
SELECTION_FIELDS = [
    pa.field("topic", pa.string()),
    pa.field("topic_confidence", pa.float64()),
    pa.field("topic_similarity", pa.float64()),
    pa.field("quality_weight", pa.float64()),
    pa.field("diversity_weight", pa.float64()),
    pa.field("selection_cluster", pa.int32()),
    pa.field("sample_weight", pa.float64()),  # the mixture's weight_column: quality x domain boost
    pa.field("domain", pa.string()),
    pa.field("domain_similarity", pa.float64()),
    pa.field("selection_tokens", pa.int64()),  # words + CJK characters: what token budgets and checks count
]
# words, or one CJK character each (the same token notion as decontamination's n-grams)
_TOKEN = re.compile(rf"[{CJK_CLASS}]|[^\W_{CJK_CLASS}]+")


def selected_schema(input_schema: pa.Schema) -> pa.Schema:
    """The input's columns (rewritten: everything the mixture reads) followed by the selection columns."""
    names = {f.name for f in SELECTION_FIELDS}
    return pa.schema([f for f in input_schema if f.name not in names] + SELECTION_FIELDS)


def prefix_and_tokens(text: str, n: int) -> tuple[str, int]:
    """(the text up to its ``n``-th token, the text's token count)."""
    end, count = len(text), 0
    for count, match in enumerate(_TOKEN.finditer(text), start=1):
        if count == n:
            end = match.end()
    return text[:end], count


def _column(batch: pa.RecordBatch, name: str) -> list:
    return batch.column(name).to_pylist() if name in batch.schema.names else [None] * batch.num_rows


def _quantiles(values: np.ndarray) -> dict[str, float]:
    if not len(values):
        return {}
    qs = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {k: float(v) for k, v in zip(("p5", "p25", "p50", "p75", "p95"), qs)}


def select_partition(
    batches: Callable[[], Iterable[pa.RecordBatch]],
    category: str,
    embedder: Embedder,
    config: SelectionConfig,
    taxonomy: Taxonomy,
    out: PartitionWriter,
    drops_out: PartitionWriter | None,
    workdir: Path,
    classifier: TopicClassifier | None = None,
) -> dict:
    """Select one category's documents (see the module docstring); returns the stats the asset shows."""
    validate_category(category)
    t0 = time.perf_counter()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = config
    ids, units_tokens, langs, raw_scores, buckets = [], [], [], [], []

    def chunks():
        row = 0
        for batch in batches():
            texts = batch.column("text").to_pylist()
            ids.extend(batch.column("id").to_pylist())
            langs.extend(_column(batch, cfg.topics.language_column))
            raw_scores.extend(_column(batch, cfg.quality.score))
            buckets.extend(_column(batch, "quality_bucket"))
            prefixes = []
            for text in texts:
                prefix, n_tokens = prefix_and_tokens(text or "", cfg.embedding.prefix_tokens)
                prefixes.append(prefix)
                units_tokens.append(n_tokens)
            for lo in range(0, len(prefixes), cfg.embedding.batch_size):
                part = prefixes[lo:lo + cfg.embedding.batch_size]
                yield np.arange(row + lo, row + lo + len(part)), part
            row += len(texts)

    _, emb = spill_embeddings(chunks(), embedder, workdir / "embeddings.f32")
    t_embed = time.perf_counter() - t0
    n = len(ids)
    stats: dict = {"docs_in": n, "config_version": cfg.version, "embed_s": round(t_embed, 3)}
    if len(set(ids)) != n:
        dup = next(i for i, c in Counter(ids).items() if c > 1)
        raise ValueError(f"{category}: document ids repeat (e.g. {dup!r}); the selection decides per id")
    tokens = np.asarray(units_tokens, dtype=np.float64)

    # topics
    classifier = classifier or TopicClassifier(taxonomy, embedder, cfg.topics)
    topics, confidence, topic_sim = [], np.zeros(n), np.zeros(n)
    for lo in range(0, n, 4096):
        t, c, s = classifier.classify(np.asarray(emb[lo:lo + 4096]), langs[lo:lo + 4096])
        topics += t
        confidence[lo:lo + 4096], topic_sim[lo:lo + 4096] = c, s

    # quality
    scores = normalised_score(raw_scores, cfg.quality.score)
    quality = quality_weights(scores, buckets, confidence, cfg.quality) if n else np.zeros(0)

    # domains
    domain = [None] * n
    domain_sim = np.full(n, np.nan)
    boost = np.ones(n)
    domain_stats = {}
    for dom in cfg.domains:
        skips = SkipCounter()
        seed_texts = read_seed_texts(Path(dom.seeds), skips)
        prefixes = [prefix_and_tokens(t, cfg.embedding.prefix_tokens)[0] for t in seed_texts]
        info = {"seed_docs": len(seed_texts), "seed_lines_skipped": skips.total, "tagged": 0}
        if prefixes and n:
            vecs = np.asarray(embedder(prefixes), dtype=np.float32)
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            tagged, best = recall(emb, vecs, dom.top_k, dom.min_similarity)
            for i in np.flatnonzero(tagged):
                if domain[i] is None or best[i] > domain_sim[i]:
                    domain[i], domain_sim[i] = dom.name, float(best[i])
            info["tagged"] = int(tagged.sum())
            info["best_similarity_p50"] = float(np.median(best))
        domain_stats[dom.name] = info
    for dom in cfg.domains:
        boost[[d == dom.name for d in domain]] = dom.boost

    # clusters, diversity, plan
    units = tokens if cfg.budget.unit == "tokens" else np.ones(n)
    available = float(units.sum())
    budget = float(cfg.budget.value) if cfg.budget.value is not None else (cfg.budget.fraction or 1.0) * available
    if n:
        clusters = cluster(emb, cfg.diversity)
        labels = clusters.labels
        if cfg.diversity.method == "knn":
            knn = knn_weights(emb, labels, cfg.diversity)
            doc_diversity = knn
            per_cluster = np.bincount(labels, weights=knn) / np.maximum(clusters.sizes, 1)
            doc_weight = quality * boost * knn
        else:
            per_cluster = cluster_diversity(clusters, cfg.diversity) if cfg.diversity.method == "cluster" \
                else np.ones(clusters.n_clusters)
            doc_diversity = per_cluster[labels]
            doc_weight = quality * boost
        plan = plan_selection(ids, units, labels, doc_weight, per_cluster, budget, cfg.diversity, cfg.seed)
        selected = plan.selected
    else:
        clusters = labels = plan = None
        selected = np.zeros(0, dtype=bool)
        doc_diversity = per_cluster = np.zeros(0)
    sample_weight = quality * boost
    t_plan = time.perf_counter()

    # second read: write
    row = 0
    for batch in batches():
        m = batch.num_rows
        sl = slice(row, row + m)
        extra = {
            "topic": pa.array(topics[sl], pa.string()),
            "topic_confidence": pa.array(confidence[sl], pa.float64()),
            "topic_similarity": pa.array(topic_sim[sl], pa.float64()),
            "quality_weight": pa.array(quality[sl], pa.float64()),
            "diversity_weight": pa.array(doc_diversity[sl], pa.float64()),
            "selection_cluster": pa.array(labels[sl], pa.int32()),
            "sample_weight": pa.array(sample_weight[sl], pa.float64()),
            "domain": pa.array(domain[sl], pa.string()),
            "domain_similarity": pa.array([None if math.isnan(v) else float(v) for v in domain_sim[sl]], pa.float64()),
            "selection_tokens": pa.array(tokens[sl].astype(np.int64), pa.int64()),
        }
        table = pa.Table.from_batches([batch])
        for name in extra:
            if name in table.schema.names:
                table = table.drop_columns([name])
        for name, values in extra.items():
            table = table.append_column(name, values)
        keep = selected[sl]
        out.write(table.filter(pa.array(keep)))
        if drops_out is not None and not keep.all():
            drops = []
            for j in np.flatnonzero(~keep):
                i = row + int(j)
                detail = {"cluster": int(labels[i]), "topic": topics[i], "quality_weight": round(float(quality[i]), 4),
                          "diversity_weight": round(float(doc_diversity[i]), 4),
                          "cluster_target": round(float(plan.cluster_target[labels[i]]), 1),
                          "sampling_key": round(float(plan.keys[i]), 4), "budget_unit": cfg.budget.unit}
                if domain[i]:
                    detail["domain"] = domain[i]
                drops.append(Drop(ids[i], category, STAGE, NOT_SELECTED, detail=json.dumps(detail, ensure_ascii=False),
                                  param_version=cfg.version))
            drops_out.write(drops_to_table(drops))
        row += m
    if row != n:
        raise RuntimeError(f"{category}: the second read gave {row} documents, the first {n} (input changed?)")

    stats.update(_summary(cfg, ids, tokens, units, topics, buckets, quality, sample_weight, clusters, plan,
                          per_cluster, selected, budget, available, domain, domain_stats))
    stats["plan_s"] = round(t_plan - t0 - t_embed, 3)
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    stats["docs_per_s"] = round(n / stats["seconds"], 1) if stats["seconds"] else 0.0
    cache = getattr(embedder, "cache", None)
    stats["embedding_cache"] = {"hits": cache.hits, "misses": cache.misses} if cache is not None else None
    return stats


def _summary(cfg, ids, tokens, units, topics, buckets, quality, sample_weight, clusters, plan, per_cluster, selected,
             budget, available, domain, domain_stats) -> dict:
    n = len(ids)
    by_topic: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0.0])
    by_bucket: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0.0])
    for i in range(n):
        for table, key in ((by_topic, topics[i]), (by_bucket, buckets[i] or "none")):
            row = table[key]
            row[0] += 1
            row[2] += tokens[i]
            if selected[i]:
                row[1] += 1
                row[3] += tokens[i]
    selected_units = float(units[selected].sum()) if n else 0.0
    cluster_rows = []
    if clusters is not None:
        sel_units = np.bincount(clusters.labels, weights=units * selected, minlength=clusters.n_clusters)
        avail_units = np.bincount(clusters.labels, weights=units, minlength=clusters.n_clusters)
        sel_docs = np.bincount(clusters.labels, weights=selected.astype(float), minlength=clusters.n_clusters)
        for c in range(clusters.n_clusters):
            members = np.flatnonzero(clusters.labels == c)
            top_topic = Counter(topics[i] for i in members).most_common(1)[0][0]
            ms = clusters.mean_similarity[c]
            cluster_rows.append({"cluster": c, "docs": int(clusters.sizes[c]), "selected_docs": int(sel_docs[c]),
                                 "mean_similarity": None if math.isnan(ms) else float(ms),
                                 "diversity_weight": float(per_cluster[c]), "share_weight": float(plan.cluster_weight[c]),
                                 "target_units": float(plan.cluster_target[c]), "selected_units": float(sel_units[c]),
                                 "available_share": float(avail_units[c] / max(available, 1e-12)),
                                 "top_topic": top_topic})
    hist_edges = [0.0, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0 + 1e-9]
    hist = np.histogram(quality, bins=hist_edges)[0].tolist() if n else [0] * (len(hist_edges) - 1)
    return {
        "docs_out": int(selected.sum()),
        "tokens_available": int(tokens.sum()),
        "tokens_selected": int(tokens[selected].sum()) if n else 0,
        "budget": {"unit": cfg.budget.unit, "budget": float(budget), "available": available,
                   "selected": selected_units, "shortfall": max(0.0, float(budget) - selected_units),
                   "from": "value" if cfg.budget.value is not None else f"fraction {cfg.budget.fraction}"},
        "by_topic": {k: {"docs": v[0], "selected_docs": v[1], "tokens": int(v[2]), "selected_tokens": int(v[3])}
                     for k, v in sorted(by_topic.items())},
        "by_bucket": {k: {"docs": v[0], "selected_docs": v[1], "tokens": int(v[2]), "selected_tokens": int(v[3])}
                      for k, v in sorted(by_bucket.items())},
        "clusters": cluster_rows,
        "k": None if clusters is None else {"fitted": clusters.k_fitted, "merged": clusters.merged,
                                            "final": clusters.n_clusters, "rule": clusters.k_rule},
        "method": cfg.diversity.method,
        "quality_weight_quantiles": _quantiles(quality),
        "quality_weight_histogram": {"edges": [round(e, 2) for e in hist_edges[:-1]] + [1.0], "counts": hist},
        "sample_weight_quantiles": _quantiles(sample_weight),
        "mean_quality_weight": {"available": float(quality.mean()) if n else None,
                                "selected": float(quality[selected].mean()) if selected.any() else None},
        "domains": domain_stats,
        "domain_selected": dict(Counter(d for d, s in zip(domain, selected) if d and s)),
    }
