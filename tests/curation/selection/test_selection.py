"""The selection core: config and taxonomy refusals, quality weights, clusters and their weights, budgeted
sampling, domain recall, and the record of every decision."""

import json
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest

from curation.document import DROP_SCHEMA
from curation.lake import PartitionWriter
from curation.selection import (
    NOT_SELECTED,
    SelectionConfig,
    SelectionConfigError,
    TopicClassifier,
    load_selection_config,
    load_taxonomy,
    select_partition,
    selected_schema,
)
from curation.selection.config import BudgetConfig, DiversityConfig, DomainConfig, QualityConfig, Threshold
from curation.selection.diversity import cluster, cluster_diversity, knn_weights, water_fill
from curation.selection.domain import recall
from curation.selection.stage import prefix_and_tokens
from curation.selection.weights import normalised_score, quality_weights
from tests.conftest import EN_DOCS, ZH_DOCS, write_jsonl
from tests.curation.selection.helpers import batches_of, bow_embedder, table

TAXONOMY = load_taxonomy("configs/topics.yaml")

# a large group of near-identical library docs and a small distinct group of math problems
BIG = [f"The {m} module function returns a list object; see the class method and import the package. Part {i}."
       for i, m in enumerate(["json", "os", "sys", "re", "io"] * 12)]
SMALL = [f"Prove that the integer n squared plus n is even; the triangle inequality bounds the sum. Case {i}."
         for i in range(6)]


def rows(big=BIG, small=SMALL):
    out = [{"id": f"big{i}", "text": t, "ensemble_bucket": 19 - i % 20, "quality_bucket": "high" if i % 20 < 2 else "mid"}
           for i, t in enumerate(big)]
    out += [{"id": f"small{i}", "text": t, "ensemble_bucket": 12, "quality_bucket": "mid"} for i, t in enumerate(small)]
    return out


def run(tmp_path, rows_, config=None, name="c"):
    config = config or SelectionConfig()
    tbl = table(rows_)
    out_dir, drop_dir = tmp_path / name / "out", tmp_path / name / "drops"
    with PartitionWriter(out_dir, selected_schema(tbl.schema)) as out, PartitionWriter(drop_dir, DROP_SCHEMA) as drops:
        stats = select_partition(batches_of(tbl), "c", bow_embedder, config, TAXONOMY, out, drops, tmp_path / name / "w")
    kept = pq.read_table(out_dir).to_pylist()
    dropped = pq.read_table(drop_dir).to_pylist()
    return stats, kept, dropped


def test_repo_configs_load_and_unknown_keys_are_refused(tmp_path):
    cfg = load_selection_config("configs/selection.yaml")
    assert cfg.diversity.method == "cluster" and cfg.budget.unit == "tokens"
    (tmp_path / "a.yaml").write_text("quality: {mode: softmax, temprature: 0.3}\n")
    with pytest.raises(SelectionConfigError, match="temprature"):
        load_selection_config(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("budgett: {unit: docs}\n")
    with pytest.raises(SelectionConfigError, match="budgett"):
        load_selection_config(tmp_path / "b.yaml")
    (tmp_path / "c.yaml").write_text("diversity: {method: kmeans}\n")
    with pytest.raises(SelectionConfigError, match="diversity.method"):
        load_selection_config(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_text("quality: {mode: thresholds, thresholds: [{min_score: 0.5, wieght: 1}]}\n")
    with pytest.raises(SelectionConfigError, match="wieght"):
        load_selection_config(tmp_path / "d.yaml")


def test_default_taxonomy_is_seed_002s_and_bad_taxonomies_are_refused(tmp_path):
    assert len(TAXONOMY.taxonomies["en"]) == 11 and len(TAXONOMY.taxonomies["zh"]) == 13
    assert TAXONOMY.language_of("zh") == "zh" and TAXONOMY.language_of("fr") == "en"
    (tmp_path / "t.yaml").write_text("taxonomies: {en: {math: {description: numbers}}}\n")
    with pytest.raises(SelectionConfigError, match="fallback topic 'others'"):
        load_taxonomy(tmp_path / "t.yaml")
    (tmp_path / "u.yaml").write_text("taxonomies: {en: {others: {description: x, keywrds: [a]}}}\n")
    with pytest.raises(SelectionConfigError, match="keywrds"):
        load_taxonomy(tmp_path / "u.yaml")


def test_classifier_labels_by_phrase_similarity_and_falls_back_below_the_bound():
    clf = TopicClassifier(TAXONOMY, bow_embedder)
    emb = bow_embedder(["velocity acceleration and force", "酒店房间干净服务好", "qqq zzz"])
    topics, conf, _best = clf.classify(emb, ["en", "zh", "en"])
    assert topics[:2] == ["mathematics_physics", "others"] and conf[0] > 0.5
    strict = TopicClassifier(TAXONOMY, bow_embedder, SelectionConfig().topics.__class__(min_similarity=0.99))
    assert strict.classify(emb[2:], ["en"])[0] == ["others"]


def test_quality_weight_rises_with_score_and_bucket_and_thresholds_work():
    s = normalised_score([19, 10, 0, None], "ensemble_bucket")
    assert s[0] == 1.0 and s[3] == 0.5
    w = quality_weights(s, ["high", "mid", "low", None], np.ones(4), QualityConfig())
    assert w[0] == 1.0 and w[0] > w[1] > w[2] > 0
    th = QualityConfig(mode="thresholds", thresholds=(Threshold(0.9, 1.0), Threshold(0.4, 0.5)), floor=0.05,
                       bucket_weights={"high": 1.0, "mid": 1.0, "low": 1.0})
    assert quality_weights(np.array([0.95, 0.5, 0.1]), ["mid"] * 3, np.ones(3), th).tolist() == [1.0, 0.5, 0.05]


def test_mean_intra_cluster_similarity_is_exact_and_near_identical_clusters_merge():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(1, 16)) + 0.05 * rng.normal(size=(20, 16))
    b = rng.normal(size=(1, 16)) + 0.6 * rng.normal(size=(20, 16))
    emb = np.concatenate([a, b]).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    c = cluster(emb, DiversityConfig(k=2, merge_similarity=0.999))
    assert c.n_clusters == 2 and c.merged == 0
    for k in range(2):
        v = emb[c.labels == k]
        sims = v @ v.T
        brute = (sims.sum() - np.trace(sims)) / (len(v) * (len(v) - 1))
        assert c.mean_similarity[k] == pytest.approx(brute, abs=1e-5)
    tight = int(np.argmax(c.mean_similarity))
    assert cluster_diversity(c, DiversityConfig())[tight] < cluster_diversity(c, DiversityConfig())[1 - tight]
    # k = 4 over two groups splits a group in two; the split halves' centroids are near-identical: merged
    merged = cluster(emb, DiversityConfig(k=4, merge_similarity=0.9))
    assert merged.merged >= 1 and merged.n_clusters < 4


def test_knn_weight_is_low_in_a_knot_of_near_copies():
    base = bow_embedder(["the json module function"])[0]
    copies = np.stack([base + 0.01 * i for i in range(5)])
    lone = bow_embedder(["a completely different sentence about rivers"])
    emb = np.concatenate([copies, lone]).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    w = knn_weights(emb, np.zeros(len(emb), dtype=np.int64), DiversityConfig(knn_neighbours=4, knn_threshold=0.8))
    assert w[-1] == 1.0 and w[0] == pytest.approx(1 / 5)


def test_water_fill_never_exceeds_capacity_and_spends_the_budget():
    alloc = water_fill(np.array([10.0, 1.0, 1.0]), np.array([5.0, 100.0, 100.0]), 50)
    assert alloc[0] == 5.0 and alloc.sum() == pytest.approx(50) and alloc[1] == pytest.approx(alloc[2])


def test_diversity_selection_keeps_the_small_group_and_records_every_decision(tmp_path):
    cfg = SelectionConfig(budget=BudgetConfig(unit="docs", fraction=0.5), diversity=DiversityConfig(k=4))
    stats, kept, dropped = run(tmp_path, rows(), cfg)
    kept_ids = {r["id"] for r in kept}
    assert len(kept_ids) + len(dropped) == len(BIG) + len(SMALL)
    small_share = sum(i.startswith("small") for i in kept_ids) / len(kept_ids)
    assert small_share > len(SMALL) / (len(BIG) + len(SMALL)) * 1.5  # the small group is up-represented
    assert stats["budget"]["selected"] >= stats["budget"]["budget"] and stats["budget"]["shortfall"] == 0
    drop = dropped[0]
    detail = json.loads(drop["detail"])
    assert drop["reason"] == NOT_SELECTED and drop["stage"] == "selected" and drop["param_version"] == cfg.version
    assert {"cluster", "quality_weight", "diversity_weight", "topic"} <= set(detail)
    assert all(r["sample_weight"] > 0 and r["topic"] for r in kept)
    # the same inputs decide the same way
    _, again, _ = run(tmp_path, rows(), cfg, name="again")
    assert {r["id"] for r in again} == kept_ids


def test_quality_decides_inside_a_cluster(tmp_path):
    same = [{"id": f"d{i}", "text": f"The json module function returns a list {i}.", "ensemble_bucket": b,
             "quality_bucket": "high" if b >= 18 else "low"} for i, b in enumerate([19, 0] * 20)]
    cfg = SelectionConfig(budget=BudgetConfig(unit="docs", fraction=0.25), diversity=DiversityConfig(method="none"),
                          quality=QualityConfig(temperature=0.1))
    _, kept, _ = run(tmp_path, same, cfg)
    assert sum(r["ensemble_bucket"] == 19 for r in kept) >= 0.8 * len(kept)


def test_an_absolute_budget_larger_than_the_category_reports_the_shortfall(tmp_path):
    stats, _kept, dropped = run(tmp_path, rows(), SelectionConfig(budget=BudgetConfig(unit="tokens", value=10**6)))
    assert not dropped and stats["budget"]["shortfall"] == 10**6 - stats["tokens_available"]


def test_domain_seeds_recall_similar_documents(tmp_path):
    write_jsonl(tmp_path / "seeds" / "math.jsonl", [{"text": SMALL[0]}, {"text": SMALL[1]}])
    (tmp_path / "seeds" / "bad.jsonl").write_text("{not json\n")
    cfg = SelectionConfig(domains=(DomainConfig("math", str(tmp_path / "seeds"), top_k=3, min_similarity=0.5),),
                          budget=BudgetConfig(fraction=1.0))
    stats, kept, _ = run(tmp_path, rows(), cfg)
    tagged = {r["id"] for r in kept if r["domain"] == "math"}
    assert tagged and all(i.startswith("small") for i in tagged)
    assert stats["domains"]["math"]["seed_docs"] == 2 and stats["domains"]["math"]["seed_lines_skipped"] == 1
    boosted = [r for r in kept if r["domain"] == "math"]
    assert all(r["sample_weight"] == pytest.approx(2.0 * r["quality_weight"]) for r in boosted)


def test_recall_keeps_top_k_per_seed_across_blocks():
    emb = np.eye(6, dtype=np.float32)[[0, 0, 1, 0, 2, 0]]
    tagged, best = recall(emb, np.eye(6, dtype=np.float32)[[0]], top_k=2, min_similarity=0.5, block=2)
    assert tagged.sum() == 2 and best.max() == 1.0


def test_prefix_counts_words_and_cjk_characters():
    assert prefix_and_tokens("one two three four", 2) == ("one two", 4)
    assert prefix_and_tokens(ZH_DOCS[1], 3)[0] == "中共中"
    assert prefix_and_tokens(EN_DOCS[0], 10**6)[0] == EN_DOCS[0]


def test_empty_partition_writes_nothing_and_says_so(tmp_path):
    stats, kept, dropped = run(tmp_path, [], SelectionConfig())
    assert stats["docs_in"] == 0 and kept == [] and dropped == [] and stats["budget"]["budget"] == 0


def test_topic_counts_cover_every_document(tmp_path):
    stats, kept, _ = run(tmp_path, rows(), SelectionConfig())
    assert sum(t["docs"] for t in stats["by_topic"].values()) == len(BIG) + len(SMALL)
    assert sum(t["selected_docs"] for t in stats["by_topic"].values()) == len(kept)
    assert Counter(r["topic"] for r in kept) == Counter({k: v["selected_docs"] for k, v in stats["by_topic"].items()
                                                         if v["selected_docs"]})
