import json
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.document import DROP_SCHEMA
from curation.lake import PartitionWriter
from curation.mixture.megatron import IndexedDataset, read_blend_file
from curation.mixture.spec import MixtureSpec, MixtureSpecError, load_mixture_spec
from curation.mixture.stage import build_mixture, share_violations
from tests.curation.training.tiny_lm import chinese_texts, english_texts

BUDGET = 12_000


def docs(category, texts, prefix, **extra):
    rows = {"id": [f"{prefix}-{i}" for i in range(len(texts))], "text": texts, "category": [category] * len(texts)}
    rows.update(extra)
    return pa.table(rows)


@pytest.fixture(scope="module")
def sources():
    en = english_texts(12)
    scored = docs("en_docs", en, "en")
    zh = docs("zh_reviews", chinese_texts(8), "zh")
    # rewrites of every English doc; those of held-out parents must never be trained on
    rewritten = docs(
        "en_docs",
        [f"In other words: {t[:600]}" for t in en],
        "wrap",
        style=["wrap_medium"] * len(en),
        parent_id=[f"en-{i}" for i in range(len(en))],
    )
    odd = pa.table(
        {
            "id": ["web-0", "en-blank", "zh-0"],
            "text": ["a web page", "  \n", "重复的编号"],
            "category": ["web", "en_docs", "zh_reviews"],
        }
    )
    return {"scored/en_docs": [scored], "scored/zh_reviews": [zh], "rewritten/en_docs": [rewritten], "odd": [odd]}


@pytest.fixture(scope="module")
def spec():
    weights = {"en_docs": 2.0, "zh_reviews": 1.0, "en_docs-synthetic-wrap_medium": 1.0, "math": 1.0}
    return MixtureSpec(weights=weights, total_tokens=BUDGET, heldout_fraction=0.2, heldout_max_docs=3, seed=11)


@pytest.fixture(scope="module")
def built(sources, spec, tiny_tokenizer, tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    with PartitionWriter(root / "drops", DROP_SCHEMA) as drops:
        stats = build_mixture(sources, tiny_tokenizer, spec, root / "mixture", drops_writer=drops)
    return root, stats


def test_shares_hit_their_targets_and_missing_categories_are_renormalised(built):
    _, stats = built
    assert stats["missing_categories"] == ["math"]
    cats = stats["categories"]
    assert set(cats) == {"en_docs", "zh_reviews", "en_docs-synthetic-wrap_medium"}
    assert cats["en_docs"]["target_share"] == pytest.approx(0.5)
    assert cats["en_docs"]["spec_share"] == pytest.approx(0.4)
    assert stats["total_tokens"] == BUDGET
    for c in cats.values():
        assert c["actual_tokens"] == c["target_tokens"]
    assert share_violations(stats) == []


def test_small_categories_are_upsampled_and_the_factor_is_reported(built):
    root, stats = built
    zh = stats["categories"]["zh_reviews"]
    assert zh["available_tokens"] < zh["target_tokens"]
    assert zh["full_epochs"] >= 1 and zh["repeat_factor"] == pytest.approx(zh["target_tokens"] / zh["available_tokens"])
    samples = pq.read_table(root / "mixture" / "samples").to_pandas()
    zh_rows = samples[(samples.category == "zh_reviews") & (samples.split == "train")]
    assert zh_rows.repeat_index.max() == zh["full_epochs"]
    assert stats["categories"]["en_docs"]["repeat_factor"] < 1  # subsampled


def test_bad_rows_are_dropped_with_their_reason(built):
    root, stats = built
    drops = pq.read_table(root / "drops").to_pydict()
    reasons = dict(zip(drops["doc_id"], drops["reason"]))
    assert reasons["web-0"] == "category_not_in_mixture"
    assert reasons["en-blank"] == "empty_text"
    assert stats["drops_by_reason"] == dict(Counter(drops["reason"]))
    assert reasons["zh-0"] == "duplicate_id"
    # the rewrite of a held-out English doc is dropped, unless it is itself held out
    samples = pq.read_table(root / "mixture" / "samples").to_pandas()
    heldout = set(samples[samples.split == "heldout"].doc_id)
    relatives = {f"wrap-{d.split('-')[1]}" for d in heldout if d.startswith("en-")} - heldout
    assert relatives and {d for d, r in reasons.items() if r == "heldout_relative"} == relatives


def test_heldout_documents_and_their_rewrites_never_reach_training(built):
    root, stats = built
    samples = pq.read_table(root / "mixture" / "samples").to_pandas()
    heldout = set(samples[samples.split == "heldout"].doc_id)
    train = set(samples[samples.split == "train"].doc_id)
    assert heldout and not heldout & train and stats["heldout_ids_in_train"] == 0
    held_en = {d for d in heldout if d.startswith("en-")}
    assert held_en
    rewrites_trained = {f"en-{d.split('-')[1]}" for d in train if d.startswith("wrap-")}
    assert not held_en & rewrites_trained
    table = pq.read_table(root / "mixture" / "heldout.parquet").to_pydict()
    assert set(table["doc_id"]) == heldout and all(t.strip() for t in table["text"])


def test_megatron_files_hold_the_tokenized_documents_in_sample_order(built, tiny_tokenizer, sources):
    root, stats = built
    texts = {
        i: t
        for t, i in zip(
            sources["scored/zh_reviews"][0]["text"].to_pylist(), sources["scored/zh_reviews"][0]["id"].to_pylist()
        )
    }
    samples = pq.read_table(root / "mixture" / "samples").to_pandas()
    rows = samples[(samples.category == "zh_reviews") & (samples.split == "train")].reset_index()
    ds = IndexedDataset(stats["megatron_prefixes"]["zh_reviews"])
    assert len(ds) == len(rows) and ds.num_tokens == stats["categories"]["zh_reviews"]["actual_tokens"]
    eos = tiny_tokenizer.eos_token_id
    for k in range(0, len(rows) - 1, 7):
        expected = tiny_tokenizer(texts[rows.doc_id[k]], add_special_tokens=False)["input_ids"] + [eos]
        assert ds[k].tolist() == expected
    blend = read_blend_file(stats["blend_path"])
    assert sum(w for w, _ in blend) == pytest.approx(1.0)
    assert all(IndexedDataset(prefix).num_tokens > 0 for _, prefix in blend)


def test_same_inputs_give_the_same_mixture(built, sources, spec, tiny_tokenizer, tmp_path):
    root, _ = built
    build_mixture(sources, tiny_tokenizer, spec, tmp_path / "again")
    first = json.loads((root / "mixture" / "mixture_manifest.json").read_text())["files"]
    second = json.loads((tmp_path / "again" / "mixture_manifest.json").read_text())["files"]
    assert first == second


def test_missing_category_can_be_an_error(sources, spec, tiny_tokenizer, tmp_path):
    strict = MixtureSpec(weights=spec.weights, total_tokens=1000, on_missing="error")
    with pytest.raises(MixtureSpecError, match="math"):
        build_mixture(sources, tiny_tokenizer, strict, tmp_path / "strict")
    assert not (tmp_path / "strict").exists() and not list(tmp_path.glob(".strict*"))


def test_repo_mixture_config_loads_and_typos_are_refused(tmp_path):
    spec = load_mixture_spec("configs/mixture.yaml")
    assert "en_docs-synthetic-wrap_medium" in spec.weights and sum(spec.shares().values()) == pytest.approx(1)
    (tmp_path / "typo.yaml").write_text("weights: {a: 1}\ntotal_tokens: 10\nheldout_fraktion: 0.1\n")
    with pytest.raises(MixtureSpecError, match="heldout_fraktion"):
        load_mixture_spec(tmp_path / "typo.yaml")
    with pytest.raises(ValueError, match="invalid category"):
        MixtureSpec(weights={"bad name": 1.0}, total_tokens=10)
    assert np.isclose(spec.shares({"code", "math"})["math"], 1.8 / 2.8)
