"""score_partition end to end: which document was dropped and why, columns, buckets, stats."""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.document import DOC_SCHEMA, DROP_SCHEMA
from curation.lake import PartitionWriter
from curation.scoring import (
    SCORE_RANGES,
    DCLMClassifier,
    EduRegressor,
    KenLMScorer,
    ScoringModels,
    load_scoring_config,
    score_partition,
    scored_schema,
    train_dclm_fasttext,
    train_edu_regressor,
    train_kenlm,
)
from tests.curation.scoring.test_config import CONFIG
from tests.curation.scoring.test_models import hashing_embedder
from tests.curation.scoring.texts import (
    EN_CLEAN,
    EN_LONG,
    EN_REFERENCE,
    ZH_NEWS,
    stdlib_source,
    stdlib_sources,
)

SPAM = "\n".join(["Buy cheap watches online today, best prices guaranteed!"] * 30)


def batches(texts: list[str], category: str, batch_size: int = 4):
    rows = [
        {"id": f"d{i}", "text": t, "category": category, "source_shard": "s0", "source_line": i, "meta": None}
        for i, t in enumerate(texts)
    ]
    for start in range(0, len(rows), batch_size):
        yield pa.RecordBatch.from_pylist(rows[start : start + batch_size], schema=DOC_SCHEMA)


def run(tmp_path: Path, texts: list[str], category: str, models: ScoringModels):
    cfg = load_scoring_config(CONFIG)
    out = PartitionWriter(tmp_path / "lake" / "scored" / category, scored_schema())
    drops = PartitionWriter(tmp_path / "lake" / "drops" / "scored" / category, DROP_SCHEMA)
    stats = score_partition(batches(texts, category), category, cfg, models, out, drops)
    return stats, pq.read_table(out.commit()).to_pylist(), pq.read_table(drops.commit()).to_pylist()


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> ScoringModels:
    d = tmp_path_factory.mktemp("models")
    lm_path, _ = train_kenlm(EN_REFERENCE, 3, d)
    code = stdlib_sources(60)
    ft_path, _ = train_dclm_fasttext(EN_REFERENCE, code, d)
    edu_path, _ = train_edu_regressor(
        EN_REFERENCE + code, [4] * len(EN_REFERENCE) + [1] * len(code), hashing_embedder, d
    )
    return ScoringModels(
        kenlm=KenLMScorer(lm_path), dclm=DCLMClassifier(ft_path), edu=EduRegressor(edu_path, hashing_embedder)
    )


def test_en_docs_partition_drops_spam_flags_chinese_and_scores_the_rest(tmp_path, models):
    texts = [EN_CLEAN, SPAM, ZH_NEWS, "", EN_LONG, *EN_REFERENCE[20:26]]
    stats, kept, dropped = run(tmp_path, texts, "en_docs", models)

    assert {d["doc_id"]: d["reason"] for d in dropped} == {
        "d1": "gopher_repetition:dup_line_frac",
        "d3": "empty_text",
    }
    assert all(d["stage"] == "scored" and d["param_version"] == load_scoring_config(CONFIG).version for d in dropped)
    by_id = {r["id"]: r for r in kept}
    assert by_id["d2"]["lang"] == "zh" and by_id["d2"]["lang_mismatch"] is True  # flagged, not dropped
    assert by_id["d0"]["lang"] == "en" and by_id["d0"]["lang_mismatch"] is False
    assert stats["docs_in"] == len(texts) and stats["docs_out"] == len(kept) == len(texts) - 2
    assert stats["drops_by_reason"] == {"gopher_repetition:dup_line_frac": 1, "empty_text": 1}
    assert stats["lang_mismatch"] == 1

    for row in kept:
        for column, (lo, hi) in SCORE_RANGES.items():
            value = row[column]
            if value is not None:
                assert (lo is None or value >= lo) and (hi is None or value <= hi), (column, value)
        assert row["loss_bucket"] in {"loss0", "loss1", "loss2"}
        assert row["quality_bucket"] in {"high", "mid", "low"}
        assert isinstance(json.loads(row["rule_flags"]), list)
    assert sorted(stats["loss_bucket_fraction"]) == ["loss0", "loss1", "loss2"]
    assert sum(stats["ensemble_bucket_histogram"]) == len(kept)
    json.dumps(stats)  # the stats are JSON-serialisable for Dagster metadata


def test_code_partition_is_not_destroyed_by_prose_rules(tmp_path):
    sources = [stdlib_source(n) for n in ("stat.py", "colorsys.py", "heapq.py", "glob.py")]
    _stats, kept, dropped = run(tmp_path, sources + ["x"], "code", ScoringModels())
    assert [d["reason"] for d in dropped] == ["code:min_chars"]
    assert len(kept) == 4 and all(r["lang_mismatch"] is False for r in kept)
    assert _stats["profile"]["kind"] == "code"  # detected from the files, not from the name "code"
    _stats_web, kept_web, _ = run(tmp_path / "as_web", sources, "web", ScoringModels())
    assert len(kept_web) == 4 and _stats_web["profile"]["kind"] == "code"  # any name: same profile


def test_zh_news_keeps_chinese_and_flags_soft_rules(tmp_path):
    paragraphs = ZH_NEWS.splitlines()
    short_news = paragraphs[1]  # one sentence: c4 (soft for zh_news) flags min_sentences
    stats, kept, dropped = run(tmp_path, [ZH_NEWS, short_news], "zh_news", ScoringModels())
    assert dropped == [] and [r["id"] for r in kept] == ["d0", "d1"]
    assert json.loads(kept[1]["rule_flags"]) == ["c4:min_sentences"]
    assert stats["soft_flags_by_rule"] == {"c4:min_sentences": 1}
    assert kept[0]["cjk_fraction"] > 0.8 and kept[0]["ppl"] is None  # no LM given: null, not made up


def test_lang_mismatch_can_be_configured_to_drop(tmp_path):
    import yaml

    from curation.scoring import scoring_config_from_dict

    raw = yaml.safe_load(CONFIG.read_text())
    raw["categories"] = {"en_docs": {"languages": ["en"], "drop_lang_mismatch": True,
                                     "rule_sets": raw["profiles"]["prose-long"]["rule_sets"]}}
    cfg = scoring_config_from_dict(raw)
    out = PartitionWriter(tmp_path / "o", scored_schema())
    drops = PartitionWriter(tmp_path / "d", DROP_SCHEMA)
    stats = score_partition(batches([EN_CLEAN, ZH_NEWS], "en_docs"), "en_docs", cfg, ScoringModels(), out, drops)
    assert stats["drops_by_reason"] == {"langid:mismatch": 1}
    assert pq.read_table(drops.commit()).column("doc_id").to_pylist() == ["d1"]
    out.abort()


def test_empty_partition_gives_empty_outputs(tmp_path):
    stats, kept, dropped = run(tmp_path, [], "math", ScoringModels())
    assert stats["docs_in"] == stats["docs_out"] == 0 and kept == [] and dropped == []
    assert stats["loss_bucket_fraction"] == {} and stats["ppl_quantiles"] is None
