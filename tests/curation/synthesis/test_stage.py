"""The four synthesis steps on a temp lake with the scripted backend: outputs, drops, fallback, resume."""

import json
from dataclasses import replace

import pytest

from curation.lake import Lake
from curation.synthesis import CHUNKS, COT, DISCIPLINE_QA, SUMMARIES
from curation.synthesis.segments import coverage_problem
from tests.curation.rewrite.helpers import PARAGRAPHS, ZH, ScriptedBackend, table
from tests.curation.synthesis.helpers import CONFIG, GOOD_QA, answer, drops, rows, run_step, write_scored

LONG = "\n\n".join(PARAGRAPHS)  # four paragraphs of the Python reference: several segments
# shaped like the sample corpus's CHAMP documents (curation/sample_corpus/champ_source.py)
CHAMP = ("Problem (Number Theory):\nFind the number $d(n)$ of positive divisors of $n = 12$.\n\nSolution:\n"
         "Write $n = 2^2 \\cdot 3$ as a product of primes.\nA divisor is $2^a 3^b$ with $0 \\le a \\le 2$ and "
         "$0 \\le b \\le 1$.\nSo there are $d(n) = (2+1)(1+1)$ divisors.\n\nAnswer: 6")


def lake_with(home, texts, buckets=None, category="docs", extra=None) -> Lake:
    lake = Lake(home)
    write_scored(lake, table(texts, buckets or ["high"] * len(texts), category=category, extra=extra), category)
    return lake


def chain(lake, backend, config=CONFIG, category="docs"):
    return {step: run_step(lake, step, backend, config, category) for step in (CHUNKS, SUMMARIES, COT)}


def test_the_chain_splits_summarizes_and_synthesizes_with_provenance_and_seed_000_slice_names(home):
    lake = lake_with(home, [LONG, PARAGRAPHS[1] + " " + PARAGRAPHS[2]], ["high", "mid"])
    backend = ScriptedBackend(answer)
    stats = chain(lake, backend)
    chunks = rows(lake, CHUNKS)
    by_parent = {}
    for r in chunks:
        by_parent.setdefault(r["parent_id"], []).append(r)
    for parent, segs in by_parent.items():
        source = {"d0": LONG, "d1": PARAGRAPHS[1] + " " + PARAGRAPHS[2]}[parent]
        segs.sort(key=lambda r: r["segment_index"])
        assert coverage_problem(source, [s["text"] for s in segs]) is None  # whole, in order, nothing lost
        assert {s["split_method"] for s in segs} == {"llm"} and segs[0]["id"] == f"{parent}~seg000"
    assert stats[CHUNKS]["split_methods"] == {"llm": 2} and stats[CHUNKS]["llm_fallbacks"] == 0
    summaries = rows(lake, SUMMARIES)
    assert len(summaries) == len(chunks) and all(len(s["text"]) < len(c["text"]) for s, c in
                                                  zip(sorted(summaries, key=lambda r: r["segment_id"]),
                                                      sorted(chunks, key=lambda r: r["id"])))
    cot = {r["parent_id"]: r for r in rows(lake, COT)}
    assert set(cot) == {"d0", "d1"}, drops(lake, COT)
    doc = cot["d0"]
    assert doc["mixture_slice"] == "cot_synthesis_docs-high" and cot["d1"]["mixture_slice"] == "cot_synthesis_docs-mid"
    assert doc["text"].startswith("Question: What are the main ideas") and doc["text"].endswith(LONG.strip())
    assert "\n\nReasoning:\n1. " in doc["text"] and doc["segment_ids"] == [s["id"] for s in by_parent["d0"]]
    prov = json.loads(doc["synthesis_provenance"])
    assert prov["template"] == "cot_synthesis" and len(prov["prompt_sha256"]) == 64 and prov["backend"] == "scripted"
    assert prov["model_revision"] == "scripted-v1" and prov["sampling"]["max_new_tokens"] == 160
    assert prov["param_version"] == CONFIG.step_version(COT) and prov["parent_id"] == "d0"
    assert stats[COT]["kept"] == 2 and stats[COT]["attempted"] == 2


def test_an_llm_answer_that_is_no_split_falls_back_to_the_rule_splitter_and_is_counted(home):
    lake = lake_with(home, [LONG])
    backend = ScriptedBackend(lambda p, s: "1. The with statement wraps a block.\n2. It" if "begin a new" in p
                              else answer(p, s))
    stats = run_step(lake, CHUNKS, backend)
    chunks = rows(lake, CHUNKS)
    assert {r["split_method"] for r in chunks} == {"rule"} and len(chunks) >= 2
    assert {r["split_note"] for r in chunks} == {"llm_split_invalid:not_a_number_list"}
    assert stats["llm_fallbacks"] == 1 and stats["rejected_generations_by_reason"] == {"not_a_number_list": 1}
    assert coverage_problem(LONG, [r["text"] for r in sorted(chunks, key=lambda r: r["segment_index"])]) is None


def test_a_failed_summary_keeps_its_document_out_of_synthesis_with_the_reason(home):
    lake = lake_with(home, [LONG, ZH * 4])
    # the Chinese document's abstracts come back in English: language mismatch
    backend = ScriptedBackend(lambda p, s: ("This is a summary of a New Year speech given on the radio." if
                                            "concise abstract" in p and "新年" in p else answer(p, s)))
    stats = chain(lake, backend)
    dropped = drops(lake, SUMMARIES)
    # every dropped abstract is the Chinese document's: in English, or no shorter than a one-sentence segment
    assert {d["detail"].split(";")[0] for d in dropped} == {"parent=d1"}
    assert {d["reason"] for d in dropped} <= {"language_mismatch", "summary_not_shorter"}
    assert any(d["reason"] == "language_mismatch" and "en != zh" in d["detail"] for d in dropped)
    assert stats[SUMMARIES]["drops_by_reason"]["language_mismatch"] >= 1
    cot_drops = {d["doc_id"]: d for d in drops(lake, COT)}
    assert cot_drops["d1~cot_synthesis"]["reason"] == "summaries_incomplete"
    assert "segments have a valid summary" in cot_drops["d1~cot_synthesis"]["detail"]
    assert [r["parent_id"] for r in rows(lake, COT)] == ["d0"]


def test_with_partial_coverage_allowed_the_abstracts_used_are_recorded(home):
    lake = lake_with(home, [LONG])
    first_fails = lambda p, s: "ok" if "concise abstract" in p and PARAGRAPHS[0][:40] in p else answer(p, s)
    half = replace(CONFIG, summaries=replace(CONFIG.summaries, min_coverage=0.5))
    stats = chain(lake, ScriptedBackend(first_fails), half)
    assert stats[SUMMARIES]["drops_by_reason"] == {"empty_output": 1} and stats[COT]["kept"] == 1
    prov = json.loads(rows(lake, COT)[0]["synthesis_provenance"])
    assert prov["summaries_used"] == prov["segments"] - 1


def test_a_math_reasoning_that_ends_on_the_wrong_number_is_dropped(home):
    lake = lake_with(home, [CHAMP], extra={"content_kind": "math"})

    def wrong(prompt, seed):
        if "What question or task" in prompt:
            return ("Question: How many positive divisors does twelve have?\nReasoning:\n1. Write twelve as a "
                    "product of primes, which gives 2^2 * 3 for the factorization.\n2. A divisor chooses an exponent "
                    "for each prime independently of the other one.\n3. That makes 3 choices times 2 choices, so "
                    "the answer is 5.")
        return answer(prompt, seed)

    chain(lake, ScriptedBackend(wrong))
    dropped = drops(lake, COT)
    assert [d["reason"] for d in dropped] == ["math_answer_mismatch"]
    assert "ends on 5, source answer 6" in dropped[0]["detail"]


def test_a_killed_run_resumes_without_regenerating_finished_batches(home, tmp_path):
    # six distinct documents (identical prompts would be answered by the generation cache)
    texts = [PARAGRAPHS[a] + " " + PARAGRAPHS[b] for a, b in ((0, 1), (1, 2), (2, 3), (3, 0), (0, 2), (1, 3))]
    config = replace(CONFIG, batch_size=2)

    class Killed(ScriptedBackend):
        """Dies on its third call: two batches of two documents are done, the third is in flight."""

        def generate_requests(self, requests):
            if self.calls == 2:
                raise KeyboardInterrupt("killed")
            return super().generate_requests(requests)

    lake = lake_with(home, texts)
    with pytest.raises(KeyboardInterrupt):
        run_step(lake, CHUNKS, Killed(answer), config)
    assert lake.files("cot_chunks", "docs") == []  # nothing half-written became the output
    resumed = ScriptedBackend(answer)
    stats = run_step(lake, CHUNKS, resumed, config)
    assert resumed.calls == 1 and len(resumed.requests) == 2  # only the third batch was generated
    assert stats["this_run"]["resumed_items"] == 4 and stats["this_run"]["items_processed"] == 2
    assert stats["items"] == 6 and stats["kept"] == 6
    again = ScriptedBackend(answer)
    assert run_step(lake, CHUNKS, again, config)["this_run"]["resumed_items"] == 6 and again.calls == 0
    clean = lake_with(tmp_path / "clean", texts)
    run_step(clean, CHUNKS, ScriptedBackend(answer), config)
    key = lambda r: r["id"]
    assert sorted(rows(lake, CHUNKS), key=key) == sorted(rows(clean, CHUNKS), key=key)


def test_a_changed_bound_revalidates_from_the_generation_cache_without_calling_the_model(home):
    lake = lake_with(home, [LONG])
    run_step(lake, CHUNKS, ScriptedBackend(answer))
    run_step(lake, SUMMARIES, ScriptedBackend(answer))
    stricter = replace(CONFIG, summaries=replace(CONFIG.summaries, max_length_ratio=0.01))
    backend = ScriptedBackend(answer)
    stats = run_step(lake, SUMMARIES, backend, stricter)
    assert backend.calls == 0 and stats["this_run"]["cache_hits"] == stats["items"]  # new version, cached outputs
    assert set(stats["drops_by_reason"]) == {"summary_not_shorter"} and stats["kept"] == 0


def test_discipline_qa_takes_the_discipline_from_config_topic_or_kind_and_keeps_latex(home):
    lake = lake_with(home, [PARAGRAPHS[0], PARAGRAPHS[1], CHAMP], extra={"topic": ""})
    backend = ScriptedBackend(answer)
    run_step(lake, DISCIPLINE_QA, backend)
    by_parent = {r["parent_id"]: r for r in rows(lake, DISCIPLINE_QA)}
    assert by_parent["d0"]["discipline"] == "General Education" and by_parent["d0"]["discipline_source"] == "kind"
    assert by_parent["d2"]["discipline"] == "Mathematics"  # CHAMP text reads as math
    assert by_parent["d0"]["text"] == GOOD_QA and by_parent["d0"]["mixture_slice"] == "discipline_qa_docs-high"
    assert any("Draw on the Mathematics material below" in p for p in backend.prompts)
    topical = lake_with(home / "t", [PARAGRAPHS[0]], extra={"topic": "Computer Science and Engineering"})
    run_step(topical, DISCIPLINE_QA, ScriptedBackend(answer))
    assert rows(topical, DISCIPLINE_QA)[0]["discipline_source"] == "topic"
    configured = replace(CONFIG, discipline_qa=replace(CONFIG.discipline_qa, disciplines={"docs": "Physics"}))
    run_step(topical, DISCIPLINE_QA, ScriptedBackend(answer), configured)
    assert rows(topical, DISCIPLINE_QA)[0]["discipline"] == "Physics"


def test_selection_budget_and_buckets_are_counted_not_silent(home):
    lake = lake_with(home, [PARAGRAPHS[0], PARAGRAPHS[1], PARAGRAPHS[2], "too short"], ["high", "low", "high", "high"])
    config = replace(CONFIG, selection=replace(CONFIG.selection, buckets=("high",), max_docs_per_category=1))
    stats = run_step(lake, CHUNKS, ScriptedBackend(answer), config)
    assert stats["skipped_by_reason"] == {"bucket_not_selected": 1, "over_max_docs_per_category": 1, "too_short": 1}
    assert {r["parent_id"] for r in rows(lake, CHUNKS)} == {"d0"}


def test_two_pass_qa_writes_the_problem_then_the_solution_under_it_and_a_bad_problem_costs_no_solution(home):
    lake = lake_with(home, [PARAGRAPHS[0], PARAGRAPHS[1]])
    seed_of_d1 = PARAGRAPHS[1][:200]

    def script(prompt, seed):  # d1's problem copies its seed snippet: pass 1 rejects it
        return f"[Problem]\nExplain: {seed_of_d1}" if PARAGRAPHS[1][:60] in prompt else GOOD_QA

    backend = ScriptedBackend(script)
    stats = run_step(lake, DISCIPLINE_QA, backend)
    two = CONFIG.discipline_qa.two_pass
    leads = [r for r in backend.requests if r.sampling.stop == two.stop]
    bodies = [r for r in backend.requests if r.response_prefix.endswith("[Solution]\n")]
    assert len(leads) == 2 and all(r.response_prefix == "[Problem]\n" for r in leads)
    problem = GOOD_QA.split("[Problem]\n", 1)[1].split("\n\n[Solution]", 1)[0]
    assert [r.response_prefix for r in bodies] == [f"[Problem]\n{problem}\n\n[Solution]\n"]  # d0 only
    (kept,) = rows(lake, DISCIPLINE_QA)
    assert kept["parent_id"] == "d0" and kept["text"] == GOOD_QA and kept["problem"] == problem
    prov = json.loads(kept["synthesis_provenance"])
    assert prov["two_pass"]["lead_attempts"] == 1 and prov["two_pass"]["stop"] == ["[Solution]"]
    (dropped,) = drops(lake, DISCIPLINE_QA)
    assert dropped["reason"] == "problem_copies_seed" and "pass 1 (lead)" in dropped["detail"]
    assert stats["leads_accepted"] == 1


def test_two_pass_cot_reasons_under_the_accepted_instruction(home):
    lake = lake_with(home, [LONG])
    backend = ScriptedBackend(answer)
    chain(lake, backend)
    bodies = [r for r in backend.requests if r.response_prefix.startswith("Question: ") and
              r.response_prefix.endswith("\n\nReasoning:\n")]
    assert len(bodies) == 1 and "What are the main ideas" in bodies[0].response_prefix
    (doc,) = rows(lake, COT)
    assert doc["instruction"].startswith("What are the main ideas") and "\n\nReasoning:\n1. " in doc["text"]
    single = replace(CONFIG, cot=replace(CONFIG.cot, two_pass=replace(CONFIG.cot.two_pass, enabled=False)))
    one = ScriptedBackend(answer)
    run_step(lake, COT, one, single)
    assert all(r.response_prefix == "Question:" and not r.sampling.stop for r in one.requests)
    assert [r["instruction"] for r in rows(lake, COT)] == [doc["instruction"]]
