import json
from dataclasses import replace

import pytest

from curation.lm.generation import TransformersBackend
from curation.rewrite import RewriteConfig, SelectionConfig
from curation.rewrite.config import CategoryOverride, ChunkingConfig, CodeConfig, MagaConfig
from tests.curation.rewrite.helpers import PARAGRAPHS, PYTHON_SOURCE, ZH, ScriptedBackend, by_style, run, table, written

NEMOTRON = RewriteConfig(keep_originals=False, code=CodeConfig(min_lint_score=None))


def synthetic(commit):
    return [r for r in written(commit) if r["parent_id"]]


def test_routes_by_bucket_names_slices_and_records_provenance(tmp_path):
    docs = table(PARAGRAPHS[:2], ["high", "low"], category="my_notes")
    backend = ScriptedBackend(by_style)
    stats, out, drops = run(tmp_path, docs, backend, NEMOTRON, category="my_notes")
    rows = {r["id"]: r for r in synthetic(out)}
    # Nemotron-CC: four styles from the high document, the Wikipedia-style rephrase from the low one
    assert set(rows) == {"d0~diverse_qa_pairs", "d0~distill", "d0~extract_knowledge", "d0~knowledge_list",
                         "d1~wrap_medium"}, (stats["validation_failures_by_reason"], written(drops))
    assert rows["d0~distill"]["mixture_slice"] == "my_notes-synthetic-distill-high"
    assert rows["d1~wrap_medium"]["mixture_slice"] == "my_notes-synthetic-wrap_medium-low"
    prov = json.loads(rows["d0~knowledge_list"]["rewrite_provenance"])
    assert prov["parent_id"] == "d0" and prov["backend"] == "scripted" and prov["model_revision"] == "scripted-v1"
    assert prov["template"] == "knowledge_list" and len(prov["template_sha256"]) == 64
    assert prov["attempts"] == [1] and prov["sampling"]["top_p"] == 0.9 and prov["param_version"] == NEMOTRON.version
    assert rows["d0~knowledge_list"]["text"].startswith("- ")  # post-processed into a clean list
    assert rows["d0~diverse_qa_pairs"]["text"].startswith("Question: ")
    # one batched call for five styles (the QA style's questions among them), one for the QA answers
    assert stats["kinds_selected"] == {"prose": 2} and backend.calls == 2


def test_a_users_python_category_takes_the_code_path_by_content(tmp_path):
    docs = table([PYTHON_SOURCE], ["high"], category="my_python")
    stats, out, _ = run(tmp_path, docs, ScriptedBackend(by_style), NEMOTRON, category="my_python")
    assert {r["style"] for r in synthetic(out)} == {"code_style_guided", "code_self_contained"}
    assert stats["kinds_selected"] == {"code": 1}


def test_code_that_does_not_compile_or_lints_badly_is_refused_with_the_reason(tmp_path):
    broken = PYTHON_SOURCE.replace("def _splitext(p, sep, altsep, extsep):", "def _splitext(p, sep, altsep, extsep)")
    docs = table([broken], ["high"], category="code_dump", extra={"content_kind": "code"})
    _stats, out, drops = run(tmp_path, docs, ScriptedBackend(by_style), NEMOTRON, category="code_dump")
    assert {d["reason"] for d in written(drops)} == {"syntax_error"} and not synthetic(out)
    sloppy = "import os, sys\nx=1\ndef f(a):\n  return b\nprint( f( x ) )\n"
    strict = replace(NEMOTRON, code=CodeConfig(min_lint_score=7.0), selection=SelectionConfig(min_chars=10))
    _stats, _, drops = run(tmp_path, table([sloppy], ["high"]), ScriptedBackend(by_style), strict, name="lint")
    dropped = written(drops)
    assert {d["reason"] for d in dropped} == {"lint_score_below_threshold"}
    assert "lint_score_ruff 0.0 < 7.0" in dropped[0]["detail"]


def test_rewritten_code_that_does_not_compile_is_a_syntax_error(tmp_path):
    docs = table([PYTHON_SOURCE], ["high"])
    stats, _out, drops = run(tmp_path, docs, ScriptedBackend(lambda p, s: "```python\ndef f(:\n    pass\n```"), NEMOTRON)
    assert stats["validation_failures_by_reason"] == {"syntax_error": 6}  # two styles x three attempts
    assert [d["reason"] for d in written(drops)] == ["syntax_error", "syntax_error"]


def test_maga_expands_into_one_document_per_genre_audience_pair(tmp_path):
    config = replace(NEMOTRON, routes={"prose": {"high": ("maga",)}},
                     maga=MagaConfig(pairs=(("blog post", "retirees"), ("lecture notes", "engineers"))))
    backend = ScriptedBackend(by_style)
    _, out, _ = run(tmp_path, table(PARAGRAPHS[:1], ["high"]), backend, config)
    assert {r["style"] for r in synthetic(out)} == {"maga-blog_post-retirees", "maga-lecture_notes-engineers"}
    assert any("blog post for retirees" in p for p in backend.prompts)


def test_long_documents_are_rewritten_chunk_by_chunk_with_the_rewritten_text_in_context(tmp_path):
    long_doc = "\n\n".join(PARAGRAPHS)
    config = replace(NEMOTRON, routes={"prose": {"high": ("wrap_medium",)}},
                     chunking=ChunkingConfig(chunk_tokens=80, context_tokens=12, max_chunks_per_doc=8))
    backend = ScriptedBackend(by_style)
    stats, out, _ = run(tmp_path, table([long_doc], ["high"]), backend, config)
    assert stats["chunks"] >= 2 and stats["rounds"] == stats["chunks"]  # autoregressive: one chunk per round
    first_output = " ".join(reversed(backend.prompts[0].rsplit("Passage:\n", 1)[1].split()))
    assert "continues a longer document" in backend.prompts[1]
    assert first_output.split()[-1] in backend.prompts[1].split("Passage:")[0]  # the tail rides along
    (row,) = synthetic(out)
    assert row["text"].count("\n\n") == stats["chunks"] - 1
    tight = replace(config, chunking=ChunkingConfig(chunk_tokens=20, max_chunks_per_doc=3))
    _, _, drops = run(tmp_path, table([long_doc], ["high"]), ScriptedBackend(by_style), tight, name="t")
    assert [d["reason"] for d in written(drops)] == ["input_too_long"]


QA_ONLY = replace(NEMOTRON, routes={"prose": {"high": ("diverse_qa_pairs",)}})


def test_qa_pairs_are_written_questions_first_then_one_answer_each(tmp_path):
    backend = ScriptedBackend(by_style)
    stats, out, drops = run(tmp_path, table(PARAGRAPHS[:1], ["high"]), backend, QA_ONLY)
    asked, *answered = backend.requests
    assert asked.response_prefix == "Question:" and "do not answer them" in asked.prompt
    assert [r.response_prefix for r in answered] == ["Answer:", "Answer:"]
    assert all(r.sampling.stop == ("\nQuestion",) and r.sampling.max_new_tokens == 64 for r in answered)
    assert [r.prompt.rsplit("Question: ", 1)[1] for r in answered] == [
        f"What does the text state about {w}?" for w in ('"with"', "allows")]
    [row] = synthetic(out)
    first = PARAGRAPHS[0].split(". ")[0]
    assert row["text"].startswith(f'Question: What does the text state about "with"?\nAnswer: {first}.')
    assert json.loads(row["rewrite_provenance"])["qa_two_pass"]["max_questions"] == 6
    assert stats["qa_two_pass"] == {"questions": 2, "answered": 2} and written(drops) == []


def test_qa_two_pass_drops_unanswered_unsupported_and_questionless_replies(tmp_path):
    def script(prompt, seed):
        if "do not answer them" in prompt:  # doc 0 gets three questions, doc 1 none
            if '"with" statement' not in prompt:
                return "Question: Here are some questions about the text."
            return ('Question: What does the text state about "with"?\nQuestion: Who won the 1998 World Cup?\n'
                    "Question: Why is the sky blue?")
        question = prompt.rsplit("Question: ", 1)[1]
        if "World Cup" in question:
            return "Answer: France won the 1998 World Cup in Paris."  # not in the source: unsupported
        if "sky" in question:
            return "Answer:\n\n"  # no answer
        if '"with"' in question:  # opens with a line break: the answer is its first non-empty line
            return "Answer:\n" + by_style(prompt, seed).removeprefix("Answer: ") + "\nIt also says more."
        return by_style(prompt, seed)

    stats, out, drops = run(tmp_path, table(PARAGRAPHS[:2], ["high", "high"]), ScriptedBackend(script), QA_ONLY)
    [row] = synthetic(out)
    assert row["id"] == "d0~diverse_qa_pairs" and row["text"].count("Question: ") == 1
    assert "World Cup" not in row["text"] and "sky" not in row["text"] and "It also says more" not in row["text"]
    assert [(d["doc_id"], d["reason"]) for d in written(drops)] == [("d1~diverse_qa_pairs", "malformed_qa_pairs")]
    assert stats["qa_two_pass"] == {"questions": 3, "answered": 2}  # doc 1 had none, in both of its tries


def test_failed_generation_is_retried_with_a_new_seed_then_kept(tmp_path):
    config = replace(NEMOTRON, routes={"prose": {"high": ("wrap_medium",)}})
    backend = ScriptedBackend(lambda p, s: p if s == 0 else by_style(p, s))  # seed 0 echoes the instruction
    stats, out, drops = run(tmp_path, table(PARAGRAPHS[:1], ["high"]), backend, config)
    assert stats["validation_failures_by_reason"] == {"prompt_echo": 1}
    assert stats["retries"] == 1 and stats["synthetic_docs"] == 1 and written(drops) == []
    assert json.loads(synthetic(out)[0]["rewrite_provenance"])["attempts"] == [2]


def test_generation_failing_every_attempt_is_dropped_with_its_reason(tmp_path):
    config = replace(NEMOTRON, routes={"prose": {"high": ("wrap_medium",)}})
    backend = ScriptedBackend(lambda p, s: "I'm sorry, but I cannot rewrite this text for you today.")
    stats, _, drops = run(tmp_path, table(PARAGRAPHS[:2], ["high", "high"]), backend, config)
    dropped = written(drops)
    assert [(d["doc_id"], d["reason"]) for d in dropped] == [("d0~wrap_medium", "refusal"), ("d1~wrap_medium", "refusal")]
    assert "attempts=3" in dropped[0]["detail"] and dropped[0]["param_version"] == config.version
    assert stats["jobs_failed_validation"] == 2 and len(backend.prompts) == 6


def test_cache_serves_a_second_run_but_not_another_backend(tmp_path):
    docs = table(PARAGRAPHS, ["high"] * 4)
    config = replace(NEMOTRON, routes={"prose": {"high": ("wrap_medium",)}})
    stats1, out1, _ = run(tmp_path, docs, ScriptedBackend(by_style), config, name="a")
    second = ScriptedBackend(by_style)
    stats2, out2, _ = run(tmp_path, docs, second, config, name="b")
    assert stats1["generated"] == 4 and second.prompts == [] and stats2["cache_hits"] == 4
    assert written(out1) == written(out2)
    other = ScriptedBackend(by_style, name="vllm")  # same model, other backend: its samples differ, so no hit
    stats3, _, _ = run(tmp_path, docs, other, config, name="c")
    assert stats3["cache_hits"] == 0 and stats3["generated"] == 4


def test_language_routing_and_caps(tmp_path):
    config = replace(NEMOTRON, routes={"prose": {"high": ("wrap_medium", "wrap_medium_zh")}},
                     selection=SelectionConfig(max_docs_per_style=1))
    zh_out = "同胞们在新年之际收到了祝贺，一九九八年的新年讲话迈向充满希望的新世纪。" * 2
    backend = ScriptedBackend(lambda p, s: zh_out if "原文" in p else by_style(p, s))
    stats, out, _ = run(tmp_path, table([ZH, PARAGRAPHS[0], PARAGRAPHS[1]], ["high"] * 3), backend, config)
    assert {r["id"] for r in synthetic(out)} == {"d0~wrap_medium_zh", "d1~wrap_medium"}
    assert stats["skipped_by_reason"]["language_zh_not_for_wrap_medium"] == 1
    assert stats["skipped_by_reason"]["over_max_docs_per_style_wrap_medium"] == 1


def test_category_override_and_missing_selection_column(tmp_path):
    config = replace(NEMOTRON, categories={"notes": CategoryOverride(routes={"high": ("distill",)})})
    _, out, _ = run(tmp_path, table(PARAGRAPHS[:1], ["high"], "notes"), ScriptedBackend(by_style), config,
                    category="notes")
    assert [r["style"] for r in synthetic(out)] == ["distill"]
    docs = table(PARAGRAPHS[:1], ["high"]).drop_columns(["quality_bucket"])
    with pytest.raises(ValueError, match="selection column 'quality_bucket' is not in the input"):
        run(tmp_path, docs, ScriptedBackend(by_style), NEMOTRON, name="x")


def test_real_transformers_backend_on_a_tiny_model(tmp_path, tiny_llama_dir):
    backend = TransformersBackend(tiny_llama_dir, device="cpu")
    # 4 new tokens of a random model cannot make a rewrite, so every attempt fails validation
    config = replace(NEMOTRON, routes={"prose": {"high": ("wrap_medium", "distill")}}, max_attempts=2)
    config = replace(config, sampling=replace(config.sampling, max_new_tokens=4))
    docs = table(PARAGRAPHS[:1], ["high"])
    stats, _, drops = run(tmp_path, docs, backend, config)
    assert stats["generated"] == 4 and stats["synthetic_docs"] == 0 and len(written(drops)) == 2
    assert stats["new_tokens"] > 0 and stats["backend"] == "transformers"
    calls = backend.counters.calls
    stats2, _, _ = run(tmp_path, docs, backend, config, name="again")
    assert backend.counters.calls == calls and stats2["cache_hits"] == 4
