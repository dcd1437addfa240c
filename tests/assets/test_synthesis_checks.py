"""Each synthesis check passes on what the stage wrote, fails on the bad data it exists for (with the
numbers in its text), and warns when it has nothing or too little to judge."""

import json

import dagster as dg
import pyarrow as pa

from assets.checks.rates import rate_band_check
from assets.synthesis_checks import (
    KEYS,
    coverage_result,
    drop_rate_result,
    gx_result,
    instruction_result,
    provenance_result,
    qa_result,
    summaries_result,
)
from curation.lake import Lake, PartitionWriter
from curation.synthesis import CHUNKS, COT, DISCIPLINE_QA, SCHEMAS, STAGES, SUMMARIES
from tests.curation.rewrite.helpers import PARAGRAPHS, ScriptedBackend, table
from tests.curation.synthesis.helpers import CONFIG, answer, rows, run_step, write_scored

CATEGORY = "docs"


def built(home) -> Lake:
    lake = Lake(home)
    write_scored(lake, table([PARAGRAPHS[0] + " " + PARAGRAPHS[1], PARAGRAPHS[2] + "\n\n" + PARAGRAPHS[3]],
                             ["high", "mid"]))
    for step in (CHUNKS, SUMMARIES, COT, DISCIPLINE_QA):
        run_step(lake, step, ScriptedBackend(answer))
    return lake


def rewrite(lake: Lake, step: str, change) -> None:
    """Replace a step's output with ``change(rows)`` (the bad data a check must catch)."""
    new = change(rows(lake, step))
    with PartitionWriter(lake.stage_dir(STAGES[step], CATEGORY), SCHEMAS[step]) as out:
        out.write(pa.Table.from_pylist(new, schema=SCHEMAS[step]))


def failed(result: dg.AssetCheckResult, *needles: str) -> None:
    assert result.passed is False and result.severity == dg.AssetCheckSeverity.ERROR, result
    text = result.metadata["failed"].value
    for needle in needles:
        assert needle in text, text


def test_checks_pass_on_what_the_stage_wrote(home):
    lake = built(home)
    for result in (coverage_result(lake, CATEGORY, CONFIG), summaries_result(lake, CATEGORY, CONFIG),
                   instruction_result(lake, CATEGORY, CONFIG), qa_result(lake, CATEGORY, CONFIG),
                   provenance_result(lake, COT, CATEGORY, CONFIG), provenance_result(lake, DISCIPLINE_QA, CATEGORY,
                                                                                     CONFIG),
                   gx_result(lake, COT, CATEGORY), gx_result(lake, DISCIPLINE_QA, CATEGORY)):
        assert result.passed, (result.check_name, result.metadata)


def test_segments_that_lose_text_cut_sentences_or_skip_an_index_fail(home):
    lake = built(home)

    def lose(rs):
        rs[1] = {**rs[1], "text": rs[1]["text"][: len(rs[1]["text"]) // 2]}
        return rs

    rewrite(lake, CHUNKS, lose)
    failed(coverage_result(lake, CATEGORY, CONFIG), "segments_lose_text", "first difference at character")
    lake = built(home / "b")

    def cut(rs):  # move a boundary into the middle of a sentence: text still rebuilds, sentences do not
        i = next(i for i in range(len(rs) - 1) if rs[i]["parent_id"] == rs[i + 1]["parent_id"])
        a, b = rs[i], rs[i + 1]
        return [*rs[:i], {**a, "text": a["text"] + b["text"][:7]}, {**b, "text": b["text"][7:]}, *rs[i + 2:]]

    rewrite(lake, CHUNKS, cut)
    failed(coverage_result(lake, CATEGORY, CONFIG), "segment_cuts_a_sentence")
    lake = built(home / "c")
    rewrite(lake, CHUNKS, lambda rs: [r for r in rs if r["id"] != "d1~seg000"])
    failed(coverage_result(lake, CATEGORY, CONFIG), "d1: segment indices")


def test_an_abstract_no_shorter_than_its_segment_or_in_another_language_fails(home):
    lake = built(home)
    segments = {r["id"]: r["text"] for r in rows(lake, CHUNKS)}
    rewrite(lake, SUMMARIES, lambda rs: [{**rs[0], "text": segments[rs[0]["segment_id"]] + " Indeed."}, *rs[1:]])
    failed(summaries_result(lake, CATEGORY, CONFIG), "is not shorter than its segment")
    lake = built(home / "b")
    chinese = "该语句用于以上下文管理器定义的方法包装代码块的执行，使常见的异常处理模式得以方便地重复使用。"
    rewrite(lake, SUMMARIES, lambda rs: [{**rs[0], "text": chinese}, *rs[1:]])
    failed(summaries_result(lake, CATEGORY, CONFIG), "language zh != en")


def test_an_instruction_that_copies_its_source_or_is_no_task_fails(home):
    lake = built(home)
    copied = PARAGRAPHS[0].split(". ")[0] + "?"
    rewrite(lake, COT, lambda rs: [{**rs[0], "instruction": copied, "text": f"Question: {copied}\n\n{rs[0]['text']}"},
                                   *rs[1:]])
    failed(instruction_result(lake, CATEGORY, CONFIG), "instruction copies its source")
    lake = built(home / "b")
    rewrite(lake, COT, lambda rs: [{**rs[0], "instruction": "The with statement."},
                                   {**rs[1], "instruction": "What question does this text answer?"}])
    failed(instruction_result(lake, CATEGORY, CONFIG), "is not a question or task", "is not self-contained")


def test_qa_with_broken_latex_or_without_sections_fails(home):
    lake = built(home)
    rewrite(lake, DISCIPLINE_QA, lambda rs: [{**rs[0], "text": rs[0]["text"].replace(r"\frac{V_1}{T_1} =", r"\frac{V_1}{T_1 =")},
                                             {**rs[1], "text": rs[1]["text"].replace("[Solution]", "")}])
    failed(qa_result(lake, CATEGORY, CONFIG), "LaTeX unbalanced braces", "no [Problem] / [Solution] sections")


def test_provenance_with_a_stale_template_hash_or_a_wrong_slice_fails(home):
    lake = built(home)

    def stale(rs):
        prov = json.loads(rs[0]["synthesis_provenance"])
        return [{**rs[0], "synthesis_provenance": json.dumps({**prov, "template_sha256": "0" * 64})},
                {**rs[1], "mixture_slice": "cot_synthesis_elsewhere-high"}]

    rewrite(lake, COT, stale)
    failed(provenance_result(lake, COT, CATEGORY, CONFIG), "hash does not match", "does not match category and bucket")
    failed(gx_result(lake, COT, CATEGORY), "expect_column_values_to_match_regex(mixture_slice): 1 of 2 rows")


def test_empty_outputs_warn_instead_of_passing(home):
    lake = Lake(home)
    write_scored(lake, table([PARAGRAPHS[0]], ["high"]))
    for step in (CHUNKS, SUMMARIES, COT, DISCIPLINE_QA):
        rewrite(lake, step, lambda rs: [])
    for result in (coverage_result(lake, CATEGORY, CONFIG), summaries_result(lake, CATEGORY, CONFIG),
                   instruction_result(lake, CATEGORY, CONFIG), qa_result(lake, CATEGORY, CONFIG),
                   provenance_result(lake, COT, CATEGORY, CONFIG)):
        assert result.passed is False and result.severity == dg.AssetCheckSeverity.WARN
        assert "cannot judge" in result.description


def test_drop_rates_are_judged_by_their_interval_and_warn_when_too_few():
    band = {"min": 0.0, "max": 0.5, "z": 1.96, "min_items": 3}
    key = KEYS[COT]
    broken = rate_band_check(key, "drop_rate_in_band", 20, 20, band, "documents")
    failed(broken, "20/20 documents dropped = 1.000", "[0.839, 1.000]")
    assert rate_band_check(key, "drop_rate_in_band", 1, 30, band, "documents").passed
    unsure = rate_band_check(key, "drop_rate_in_band", 3, 5, band, "documents")  # 0.6, interval [0.23, 0.88]
    assert unsure.passed is False and unsure.severity == dg.AssetCheckSeverity.WARN and "straddles" in unsure.description
    few = rate_band_check(key, "drop_rate_in_band", 0, 2, band, "documents")
    assert few.passed is False and few.severity == dg.AssetCheckSeverity.WARN and "min_items 3" in few.description
    # the shipped band (checks.yaml) fails a step that loses everything once there are enough items to show it
    stats = {"failed_validation": 100, "attempted": 100, "drops_by_reason": {"malformed_cot": 100}}
    failed(drop_rate_result(COT, stats), "100/100 documents dropped")
    stats = {"failed_validation": 12, "attempted": 12, "drops_by_reason": {"malformed_cot": 12}}
    assert drop_rate_result(COT, stats).severity == dg.AssetCheckSeverity.WARN  # 12 cannot show it
