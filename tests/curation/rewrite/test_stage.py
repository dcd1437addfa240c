import json
from dataclasses import replace
from pydoc_data.topics import topics

import pyarrow as pa
import pytest

from curation.document import DOC_SCHEMA, DROP_SCHEMA
from curation.lake import Lake, PartitionWriter
from curation.lm.generation import TransformersBackend
from curation.rewrite import GenerationCache, RewriteConfig, SelectionConfig, output_schema, rewrite_partition


# Real English prose (Python's own language reference), the first long prose paragraph of each topic.
def _prose(topic: str) -> str:
    paragraphs = (" ".join(p.split()) for p in topics[topic].split("\n\n"))
    return next(p for p in paragraphs if "::=" not in p and len(p) > 200)


PARAGRAPHS = [_prose(name) for name in ("with", "if", "class", "lambda")]
ZH = (
    "迈向充满希望的新世纪——一九九八年新年讲话。同胞们、朋友们、女士们、先生们：在一九九八年来临之际，"
    "我十分高兴地通过中央人民广播电台向全国各族人民致以新年的祝贺。中共中央总书记、国家主席江泽民发表一九九八年新年讲话。"
)


class ScriptedBackend:
    """Deterministic stand-in for retry/validation tests: ``script(prompt, seed)`` decides each output."""

    model_id = "scripted"
    fingerprint = "scripted-v1"
    context_length = 2048

    def __init__(self, script):
        self.script = script
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, prompts, max_new_tokens, temperature, seed, system=None):
        self.prompts += prompts
        return [self.script(p, seed) for p in prompts]


def paraphrase(prompt: str, seed: int) -> str:
    # a faithful-looking rewrite: the document slot, words reversed within each sentence
    doc = prompt.split("\n\n", 1)[1]
    return " ".join(reversed(doc.split()))


def table(texts, buckets, category="docs"):
    rows = [
        {
            "id": f"d{i}",
            "text": t,
            "category": category,
            "source_shard": "s.jsonl",
            "source_line": i,
            "meta": json.dumps({"url": f"u{i}"}),
            "quality_bucket": b,
        }
        for i, (t, b) in enumerate(zip(texts, buckets, strict=True))
    ]
    schema = DOC_SCHEMA.append(pa.field("quality_bucket", pa.string()))
    return pa.Table.from_pylist(rows, schema=schema)


def run(tmp_path, docs, backend, config, name="run"):
    lake = Lake(tmp_path / "home")
    out = PartitionWriter(lake.stage_dir("rewritten", "docs") / name, output_schema(docs.schema))
    drops = PartitionWriter(lake.drops_dir("rewritten", "docs") / name, DROP_SCHEMA)
    with GenerationCache.for_lake(lake) as cache:
        stats = rewrite_partition(docs.to_batches(max_chunksize=2), "docs", backend, config, cache, out, drops)
    return stats, out.commit, drops.commit


def written(commit):
    import pyarrow.parquet as pq

    return pq.read_table(commit()).to_pylist()


WRAP = RewriteConfig(styles=("wrap_medium",))


def test_selects_high_bucket_writes_synthetic_docs_with_lineage(tmp_path):
    docs = table(PARAGRAPHS + ["", ZH], ["high", "low", "high", "high", "high", "high"])
    backend = ScriptedBackend(paraphrase)
    config = replace(WRAP, selection=SelectionConfig(max_docs_per_category=2))
    stats, out, drops = run(tmp_path, docs, backend, config)
    rows = written(out)
    synthetic = [r for r in rows if r["parent_id"]]
    assert [r["id"] for r in synthetic] == ["d0~wrap_medium", "d2~wrap_medium"]  # d1 is low, cap 2 stops d3
    assert synthetic[0]["text"] == " ".join(reversed(PARAGRAPHS[0].split()))
    assert synthetic[0]["style"] == "wrap_medium" and synthetic[0]["model"] == "scripted"
    assert synthetic[0]["quality_bucket"] == "high" and json.loads(synthetic[0]["meta"])["url"] == "u0"
    assert len(rows) == 8  # six originals kept + two synthetic
    assert stats["skipped_by_reason"] == {
        "not_quality_bucket_in_high": 1,
        "empty_text": 1,
        "over_max_docs_per_category": 2,
    }
    assert stats["docs_in"] == 6 and stats["docs_out"] == 8 and stats["generated"] == 2
    assert written(drops) == []


def test_chinese_input_only_goes_to_the_chinese_style(tmp_path):
    docs = table([ZH, PARAGRAPHS[0]], ["high", "high"])
    config = replace(WRAP, styles=("wrap_medium", "wrap_medium_zh"), keep_originals=False)
    stats, out, _ = run(
        tmp_path,
        docs,
        ScriptedBackend(lambda p, s: "同胞们在新年之际收到了祝贺，一九九八年的新年讲话迈向充满希望的新世纪。" * 2),
        config,
    )
    assert stats["skipped_by_reason"] == {"language_zh_not_for_wrap_medium": 1, "language_en_not_for_wrap_medium_zh": 1}
    ids = {r["id"] for r in written(out)}
    assert "d0~wrap_medium_zh" in ids


def test_failed_generation_is_retried_with_a_new_seed_then_kept(tmp_path):
    def echo_first(prompt, seed):
        return prompt if seed == 0 else paraphrase(prompt, seed)  # seed 0 echoes the instruction

    backend = ScriptedBackend(echo_first)
    stats, _out, drops = run(tmp_path, table(PARAGRAPHS[:1], ["high"]), backend, WRAP)
    assert stats["validation_failures_by_reason"] == {"prompt_echo": 1}
    assert stats["retries"] == 1 and stats["synthetic_docs"] == 1
    assert len(backend.prompts) == 2 and written(drops) == []


def test_generation_failing_every_attempt_is_dropped_with_its_reason(tmp_path):
    backend = ScriptedBackend(lambda p, s: "Short.")
    stats, out, drops = run(tmp_path, table(PARAGRAPHS[:2], ["high", "high"]), backend, WRAP)
    dropped = written(drops)
    assert [(d["doc_id"], d["stage"], d["reason"]) for d in dropped] == [
        ("d0~wrap_medium", "rewritten", "empty_output"),
        ("d1~wrap_medium", "rewritten", "empty_output"),
    ]
    assert "attempts=3" in dropped[0]["detail"] and dropped[0]["param_version"] == WRAP.version
    assert stats["drops_by_reason"] == {"empty_output": 2} and len(backend.prompts) == 6
    assert not [r for r in written(out) if r["parent_id"]]


def test_second_run_is_served_from_the_cache(tmp_path):
    first = ScriptedBackend(paraphrase)
    docs = table(PARAGRAPHS, ["high"] * 4)
    stats1, out1, _ = run(tmp_path, docs, first, WRAP, name="a")
    second = ScriptedBackend(paraphrase)
    stats2, out2, _ = run(tmp_path, docs, second, WRAP, name="b")
    assert stats1["generated"] == 4 and stats1["cache_hits"] == 0
    assert second.prompts == [] and stats2["generated"] == 0 and stats2["cache_hits"] == 4
    assert written(out1) == written(out2)


def test_long_documents_are_chunked_and_over_long_ones_dropped(tmp_path):
    long_doc = "\n\n".join(PARAGRAPHS)  # four paragraphs of 35-60 words
    config = replace(WRAP, chunk_tokens=80, max_chunks_per_doc=8, keep_originals=False)
    backend = ScriptedBackend(paraphrase)
    stats, _out, _ = run(tmp_path, table([long_doc], ["high"]), backend, config)
    assert stats["chunks"] == len(backend.prompts) >= 2
    assert all(len(p.split("\n\n", 1)[1].split()) <= 80 for p in backend.prompts)
    tight = replace(config, chunk_tokens=20, max_chunks_per_doc=3)
    stats, _, drops = run(tmp_path, table([long_doc], ["high"]), ScriptedBackend(paraphrase), tight, name="t")
    assert [d["reason"] for d in written(drops)] == ["input_too_long"]


def test_missing_selection_column_is_a_clear_error(tmp_path):
    docs = table(PARAGRAPHS[:1], ["high"]).drop_columns(["quality_bucket"])
    with pytest.raises(ValueError, match="selection column 'quality_bucket' is not in the input"):
        run(tmp_path, docs, ScriptedBackend(paraphrase), WRAP)


def test_real_transformers_backend_on_a_tiny_model(tmp_path, tiny_llama_dir):
    backend = TransformersBackend(tiny_llama_dir, device="cpu")
    # 4 new tokens cannot make a paraphrase of a 40-word paragraph, so every attempt fails
    config = replace(WRAP, max_new_tokens=4, max_attempts=2, keep_originals=False)
    docs = table(PARAGRAPHS[:2], ["high", "high"])
    stats, _, _drops = run(tmp_path, docs, backend, config)
    assert stats["generated"] == 4 and stats["synthetic_docs"] == 0
    assert sum(stats["drops_by_reason"].values()) == 2
    assert set(stats["drops_by_reason"]) <= {"empty_output", "length_ratio_low", "language_mismatch"}
    assert stats["new_tokens"] > 0
    calls = backend.counters.calls
    stats2, _, _ = run(tmp_path, docs, backend, config, name="again")
    assert backend.counters.calls == calls and stats2["cache_hits"] == 4


def test_documents_over_the_length_budget_are_not_selected(tmp_path):
    long_doc = " ".join(PARAGRAPHS)  # four paragraphs: over a one-chunk CPU budget
    docs = table([PARAGRAPHS[0], long_doc], ["high", "high"])
    config = replace(WRAP, selection=SelectionConfig(max_chars=len(PARAGRAPHS[0]) + 1))
    stats, out, _ = run(tmp_path, docs, ScriptedBackend(paraphrase), config)
    assert [r["id"] for r in written(out) if r["parent_id"]] == ["d0~wrap_medium"]
    assert stats["skipped_by_reason"] == {"too_long_for_budget": 1}
