import json
import shutil
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.decontam.index import EvalIndex, EvalItem
from curation.document import DROP_SCHEMA
from curation.lake import PartitionWriter
from curation.mixture import verify
from curation.mixture.curriculum import StageSpec
from curation.mixture.megatron import IndexedDataset, read_blend_file
from curation.mixture.spec import MixtureSpec, MixtureSpecError, load_mixture_spec
from curation.mixture.stage import build_mixture
from curation.mixture.tokens import TokenizerError
from tests.curation.training.tiny_lm import chinese_texts, english_texts

BUDGET = 12_000
BILINGUAL = StageSpec(name="s1", ratios={"zh": 2, "en": 8}, ordering="ppl_ascending")
SYNTHETIC = StageSpec(name="s2", ratios={"zh": 1, "en": 7, "synthetic": 2}, ordering="random")


def docs(category, texts, prefix, lang, **extra):
    n = len(texts)
    rows = {"id": [f"{prefix}-{i}" for i in range(n)], "text": texts, "category": [category] * n,
            "lang": [lang] * n, "ppl": [float(1000 - 37 * i % 500) for i in range(n)]}
    rows.update(extra)
    return pa.table(rows)


@pytest.fixture(scope="module")
def sources():
    en = english_texts(12)
    # category names a user might pick: nothing in the spec lists them
    scored = docs("tech_prose", en, "en", "en")
    zh = docs("reviews", chinese_texts(8), "zh", "zh")
    rewritten = docs("tech_prose", [f"In other words: {t[:600]}" for t in en], "wrap", "en",
                     style=["wrap_medium"] * len(en), parent_id=[f"en-{i}" for i in range(len(en))])
    odd = pa.table({"id": ["fr-0", "en-blank", "zh-0"], "text": ["une page en français " * 20, "  \n", "重复的编号"],
                    "category": ["web", "tech_prose", "reviews"], "lang": ["fr", "en", "zh"]})
    return {"scored/a": [scored], "scored/b": [zh], "rewritten/a": [rewritten], "odd": [odd]}


@pytest.fixture(scope="module")
def spec():
    # one listed slice; every other slice gets default_weight
    return MixtureSpec(weights={"tech_prose": 2.0, "math": 1.0}, default_weight=1.0, total_tokens=BUDGET,
                       heldout_fraction=0.2, heldout_max_docs=3, seed=11)


def build(sources, spec, tokenizer, root, stage, **kwargs):
    with PartitionWriter(root / "drops", DROP_SCHEMA) as drops:
        stats = build_mixture(sources, tokenizer, spec, root / "mixture", drops_writer=drops, stage=stage, **kwargs)
    return root / "mixture", stats


@pytest.fixture(scope="module")
def stage1(sources, spec, tiny_tokenizer, tmp_path_factory):
    return build(sources, spec, tiny_tokenizer, tmp_path_factory.mktemp("s1"), BILINGUAL)


@pytest.fixture(scope="module")
def stage2(sources, spec, tiny_tokenizer, tmp_path_factory):
    return build(sources, spec, tiny_tokenizer, tmp_path_factory.mktemp("s2"), SYNTHETIC)


def test_group_ratios_hold_in_the_written_files(stage1, stage2):
    for (mixture, stats), want in ((stage1, {"zh": 0.2, "en": 0.8}), (stage2, {"zh": 0.1, "en": 0.7, "synthetic": 0.2})):
        report = verify.share_report(mixture)
        assert report.violations == [] and report.total_tokens == BUDGET == stats["total_tokens"]
        assert {g: round(a, 2) for g, _, a in report.groups if a} == want
    # the unlisted French group gets default_ratio 0; the unlisted synthetic slice default_weight
    cats = stage2[1]["categories"]
    assert cats["web"]["group"] == "fr" and cats["web"]["actual_tokens"] == 0
    assert cats["tech_prose-synthetic-wrap_medium"]["group"] == "synthetic"
    assert stage2[1]["missing_categories"] == ["math"]


def test_a_doctored_samples_file_fails_the_share_and_alignment_checks(stage2, tmp_path):
    mixture = tmp_path / "m"
    shutil.copytree(stage2[0], mixture)
    part = min((mixture / "samples").glob("*.parquet"))
    table = pq.read_table(part)
    cats = table["category"].to_pylist()
    relabeled = ["reviews" if c == "tech_prose" else c for c in cats]  # claim English tokens are Chinese
    pq.write_table(table.set_column(table.schema.get_field_index("category"), "category", pa.array(relabeled)), part)
    report = verify.share_report(mixture)
    assert any("reviews: written share" in v for v in report.violations)
    # drop rows: the samples no longer describe the token files
    pq.write_table(table.slice(0, table.num_rows // 2), part)
    assert any("the .idx holds" in p for p in verify.file_alignment(mixture))
    assert verify.file_alignment(stage2[0]) == []


def test_a_missing_spec_slice_is_reported_by_the_file_check(stage1):
    assert "math" in verify.share_report(stage1[0]).missing


def test_ppl_ascending_writes_one_dataset_in_perplexity_order(stage1, sources):
    mixture, stats = stage1
    blend = read_blend_file(stats["blend_path"])
    assert [p.name for _, p in blend] == ["ordered_text_document"] and blend[0][0] == pytest.approx(1.0)
    ppl = {i: p for b in sources.values() for t in b for i, p in zip(t["id"].to_pylist(),
                                                                       (t["ppl"].to_pylist() if "ppl" in t.column_names
                                                                        else [None] * t.num_rows))}
    samples = pq.read_table(mixture / "samples").to_pandas()
    train = samples[samples.split == "train"].sort_values("seq_index")
    for _, epoch in train.groupby("repeat_index"):
        values = [ppl[d] if ppl[d] is not None else np.inf for d in epoch.doc_id]
        assert values == sorted(values)


def test_random_stage_writes_a_dataset_per_slice(stage2):
    blend = read_blend_file(stage2[1]["blend_path"])
    assert len(blend) == 3 and sum(w for w, _ in blend) == pytest.approx(1.0)
    assert all(IndexedDataset(prefix).num_tokens > 0 for _, prefix in blend)


def test_heldout_documents_and_relatives_never_reach_training(stage2):
    mixture, stats = stage2
    assert verify.heldout_leaks(mixture) == []
    drops = pq.read_table(mixture.parent / "drops").to_pydict()
    reasons = dict(zip(drops["doc_id"], drops["reason"]))
    assert reasons["en-blank"] == "empty_text" and reasons["zh-0"] == "duplicate_id"
    assert "heldout_relative" in reasons.values()
    assert stats["drops_by_reason"] == dict(Counter(drops["reason"]))


def test_doctored_training_rows_fail_the_heldout_check(stage2, tmp_path):
    mixture = tmp_path / "m"
    shutil.copytree(stage2[0], mixture)
    held = pq.read_table(mixture / "heldout.parquet").to_pydict()
    part = min((mixture / "samples").glob("*.parquet"))
    table = pq.read_table(part)
    ids = table["doc_id"].to_pylist()
    ids[0] = held["doc_id"][0]  # a held-out id in the training rows
    parents = table["parent_id"].to_pylist()
    parents[1] = held["doc_id"][-1]  # a rewrite of a held-out document
    table = table.set_column(0, "doc_id", pa.array(ids))
    table = table.set_column(table.schema.get_field_index("parent_id"), "parent_id", pa.array(parents))
    pq.write_table(table, part)
    leaks = verify.heldout_leaks(mixture)
    assert any("held-out ids trained" in x for x in leaks)
    assert any("rewrites of held-out documents trained" in x for x in leaks)


def test_heldout_of_an_earlier_stage_counts(stage1, stage2, tmp_path):
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    train = pq.read_table(stage2[0] / "samples").to_pandas()
    trained = train[train.split == "train"].doc_id.iloc[0]
    pq.write_table(pa.table({"doc_id": [trained], "parent_id": [None]}), earlier / "heldout.parquet")
    assert verify.heldout_leaks(stage2[0], [earlier])


def test_a_planted_eval_item_is_removed_with_lineage(sources, spec, tiny_tokenizer, tmp_path):
    item = english_texts(30)[25][:900]
    planted = dict(sources)
    planted["plant"] = [docs("tech_prose", [f"Preface words here. {item.replace('the', 'a', 2)} The end."],
                             "plant", "en")]
    index = EvalIndex.build([EvalItem("evalsets/mine.jsonl", "q1", item)], 13)
    mixture, stats = build(planted, spec, tiny_tokenizer, tmp_path / "on", SYNTHETIC, eval_index=index)
    drops = pq.read_table(tmp_path / "on" / "drops").to_pydict()
    row = drops["doc_id"].index("plant-0")
    assert drops["reason"][row] == "eval_contamination"
    assert "evalsets/mine.jsonl:q1" in drops["detail"][row] and "ngram" in drops["detail"][row]
    checked, found = verify.eval_overlaps(mixture, tiny_tokenizer, stats["eod_token_id"], index, 0.1)
    assert checked > 0 and found == []
    # decontamination off: the document is trained on and the check on the written files finds it
    off = MixtureSpec(**{**spec.__dict__, "decontamination": type(spec.decontamination)(enabled=False)})
    mixture, stats = build(planted, off, tiny_tokenizer, tmp_path / "off", SYNTHETIC, eval_index=index)
    _, found = verify.eval_overlaps(mixture, tiny_tokenizer, stats["eod_token_id"], index, 0.1)
    assert [d for d, _ in found] == ["plant-0"] and found[0][1].overlap > 0.5


def test_sample_weight_zero_is_dropped_and_reweighting_factors_apply(sources, spec, tiny_tokenizer, tmp_path):
    weighted = dict(sources)
    zh = sources["scored/b"][0]
    weighted["scored/b"] = [zh.append_column("sample_weight", pa.array([0.0] + [1.0] * (zh.num_rows - 1)))]
    mixture, stats = build(weighted, spec, tiny_tokenizer, tmp_path / "w", SYNTHETIC,
                           slice_factors={"tech_prose": 1.5})
    assert stats["drops_by_reason"]["zero_sample_weight"] == 1
    cats = stats["categories"]
    # inside the English group tech_prose (weight 2 x f 1.5) vs nothing else English: all of en
    assert cats["tech_prose"]["factor"] == 1.5 and verify.share_report(mixture).violations == []


def test_eod_token_comes_from_config(sources, spec, tiny_tokenizer, tmp_path):
    named = MixtureSpec(**{**spec.__dict__, "eod_token": "<|endoftext|>"})
    _, stats = build(sources, named, tiny_tokenizer, tmp_path / "eod", BILINGUAL)
    assert stats["eod_token"] == "<|endoftext|>"
    with pytest.raises(TokenizerError, match="im_end"):
        build(sources, MixtureSpec(**{**spec.__dict__, "eod_token": "<|im_end|>"}), tiny_tokenizer,
              tmp_path / "bad", BILINGUAL)


def test_same_inputs_give_the_same_mixture(stage2, sources, spec, tiny_tokenizer, tmp_path):
    build_mixture(sources, tiny_tokenizer, spec, tmp_path / "again", stage=SYNTHETIC)
    first = json.loads((stage2[0] / "mixture_manifest.json").read_text())["files"]
    second = json.loads((tmp_path / "again" / "mixture_manifest.json").read_text())["files"]
    assert first == second


def test_missing_slice_can_be_an_error(sources, spec, tiny_tokenizer, tmp_path):
    strict = MixtureSpec(weights=spec.weights, total_tokens=1000, on_missing="error")
    with pytest.raises(MixtureSpecError, match="math"):
        build_mixture(sources, tiny_tokenizer, strict, tmp_path / "strict")
    assert not (tmp_path / "strict").exists() and not list(tmp_path.glob(".strict*"))


def test_repo_mixture_config_loads_and_typos_are_refused(tmp_path):
    spec = load_mixture_spec("configs/mixture.yaml")
    assert spec.sources == ("selected", "cot_synthesis", "discipline_qa") and spec.default_weight > 0 and spec.weight_column == "sample_weight"
    assert spec.decontamination.n == 13
    (tmp_path / "typo.yaml").write_text("weights: {a: 1}\ntotal_tokens: 10\nheldout_fraktion: 0.1\n")
    with pytest.raises(MixtureSpecError, match="heldout_fraktion"):
        load_mixture_spec(tmp_path / "typo.yaml")
    with pytest.raises(ValueError, match="invalid category"):
        MixtureSpec(weights={"bad name": 1.0}, total_tokens=10)


def test_slice_by_topic_gives_each_topic_its_own_slice_and_weight(sources, spec, tiny_tokenizer, tmp_path):
    """configs/mixture.yaml's `slice_by: topic`: the selection stage's topic column subdivides slices."""
    scored = sources["scored/a"][0]
    topics = ["mathematics_physics" if i % 3 == 0 else "computer_science_engineering" for i in range(scored.num_rows)]
    by_topic = {"scored/a": [scored.append_column("topic", pa.array(topics))]}
    weighted = MixtureSpec(**{**spec.__dict__, "slice_by": "topic",
                              "weights": {"tech_prose.mathematics_physics": 3.0,
                                          "tech_prose.computer_science_engineering": 1.0}})
    mixture, stats = build(by_topic, weighted, tiny_tokenizer, tmp_path / "topics", None)
    cats = stats["categories"]
    assert set(cats) == {"tech_prose.mathematics_physics", "tech_prose.computer_science_engineering"}
    assert cats["tech_prose.mathematics_physics"]["target_share"] == pytest.approx(0.75)
    assert verify.share_report(mixture).violations == []
