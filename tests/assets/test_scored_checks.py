"""Each scored / deduped check beside bad data that makes it fail (a check that cannot fail is a defect)."""

import pyarrow as pa
import pytest

from assets.deduped_checks import dedup_check_results
from assets.scored_checks import scored_check_results
from curation.document import DOC_SCHEMA
from curation.lake import Lake, PartitionWriter
from curation.scoring import scored_schema


def write_scored(home, category, n, quality=lambda i: ["high", "mid", "low"][i % 3], lang=lambda i: "en",
                 dclm=lambda i: (i % 10) / 10, edu=lambda i: 1 + (i % 4), ppl=10.0):
    schema = scored_schema(DOC_SCHEMA)
    rows = [{"id": f"d{i}", "text": f"document number {i}", "category": category, "source_shard": "s",
             "source_line": i, "lang": lang(i), "lang_score": 0.9, "lang_mismatch": False, "cjk_fraction": 0.0,
             "ppl": ppl, "loss_bucket": f"loss{i % 3}", "dclm_score": dclm(i), "edu_score": edu(i),
             "edu_int": round(edu(i)), "ensemble_bucket": 10, "quality_bucket": quality(i)} for i in range(n)]
    lake = Lake(home)
    with PartitionWriter(lake.stage_dir("scored", category), schema) as out:
        out.write(pa.Table.from_pylist(rows, schema=schema))
    return lake


def stats(kind="code", length="long", docs_in=100, docs_out=90, expected=("en",)):
    return {"docs_in": docs_in, "docs_out": docs_out, "expected_languages": list(expected),
            "profile": {"name": f"en-{kind}-{length}", "kind": kind, "length": length}}


def results(lake, category, st):
    return {r.check_name: r for r in scored_check_results(lake, category, st)}


def test_all_scored_checks_pass_on_a_healthy_code_category(home):
    got = results(write_scored(home, "ok", 90), "ok", stats())
    assert {k: r.passed for k, r in got.items()} == dict.fromkeys(got, True)


def test_bucket_check_fails_on_constant_scores_and_on_one_bucket_over_mixed_scores(home):
    lake = write_scored(home, "flat", 90, dclm=lambda i: 0.5, edu=lambda i: 2.0, quality=lambda i: "mid")
    constant = results(lake, "flat", stats())["bucket_distribution_sane"]
    assert not constant.passed and "scores constant" in constant.description
    lake = write_scored(home, "hidden", 90, dclm=lambda i: 0.05 if i % 2 else 0.95, quality=lambda i: "high")
    hidden = results(lake, "hidden", stats())["bucket_distribution_sane"]
    assert not hidden.passed and "1.000 of documents 'high' > 0.98" in hidden.description


def test_bucket_check_with_too_few_documents_warns_instead_of_passing(home):
    got = results(write_scored(home, "tiny", 12), "tiny", stats())["bucket_distribution_sane"]
    assert got.passed is False and got.severity.value == "WARN" and "not judged" in got.description


def test_language_check_fails_for_a_code_category_full_of_unexpected_language(home):
    lake = write_scored(home, "code_zh", 90, lang=lambda i: "zh" if i % 2 else "en")
    got = results(lake, "code_zh", stats(kind="code"))["language_mix_expected"]
    assert not got.passed and "0.500 of 90 documents in languages outside ['en']" in got.description
    none = results(lake, "code_zh", stats(expected=()))["language_mix_expected"]
    assert none.passed is False and none.severity.value == "WARN"


def test_drop_band_depends_on_the_profile(home):
    lake = write_scored(home, "short", 90)
    assert results(lake, "short", stats("prose", "long", 100, 40))["drop_rate_in_band"].passed  # 0.6 <= 0.7
    short = results(lake, "short", stats("prose", "short", 100, 40))["drop_rate_in_band"]
    assert not short.passed and "dropped 0.600 outside band [0.0, 0.5]" in short.description


def test_scores_out_of_range_fail_the_gx_suite(home):
    got = results(write_scored(home, "bad", 90, ppl=0.5), "bad", stats())
    assert not got["gx_scores_valid"].passed


def write_deduped(home, category, texts):
    lake = Lake(home)
    rows = [{"id": f"d{i}", "text": t, "category": category, "source_shard": "s", "source_line": i, "meta": None}
            for i, t in enumerate(texts)]
    with PartitionWriter(lake.stage_dir("deduped", category), DOC_SCHEMA) as out:
        out.write(pa.Table.from_pylist(rows, schema=DOC_SCHEMA))
    return lake


@pytest.mark.parametrize("docs_out,passed", [(60, True), (1, False)])
def test_dedup_drop_rate_band(home, docs_out, passed):
    lake = write_deduped(home, "c", ["alpha beta", "gamma delta"])
    got = {r.check_name: r for r in dedup_check_results(lake, "c", {"docs_in": 100, "docs_out": docs_out})}
    assert got["drop_rate_in_band"].passed is passed
    if not passed:
        assert "dropped 0.99 > band 0.60 for c (99 of 100)" in got["drop_rate_in_band"].metadata["failed"].value


def test_dedup_band_judges_within_category_drops_not_copies_of_other_categories(home):
    """Issue 15.8: the category that loses a race for shared documents must not fail its band."""
    lake = write_deduped(home, "c", ["alpha beta", "gamma delta"])
    shared = {"docs_in": 100, "docs_out": 10, "dropped_cross_category": 85, "dropped_within_category": 5}
    check = {r.check_name: r for r in dedup_check_results(lake, "c", shared)}["drop_rate_in_band"]
    assert check.passed and check.metadata["cross_category_duplicates"].value == 85
    assert check.metadata["drop_rate"].value == pytest.approx(5 / 15, rel=1e-3)
    own = {"docs_in": 100, "docs_out": 10, "dropped_cross_category": 0, "dropped_within_category": 90}
    assert not {r.check_name: r for r in dedup_check_results(lake, "c", own)}["drop_rate_in_band"].passed


def test_dedup_checks_fail_when_an_exact_duplicate_survives(home):
    lake = write_deduped(home, "dup", ["Same text here.", "same   TEXT here.", "other"])
    got = {r.check_name: r for r in dedup_check_results(lake, "dup", {"docs_in": 3, "docs_out": 3})}
    assert not got["gx_no_exact_duplicates"].passed and got["gx_no_exact_duplicates"].description.startswith("1 of 3")
    assert got["schema_matches_contract"].passed
    ok = write_deduped(home, "fine", ["one text", "another text"])
    assert all(r.passed for r in dedup_check_results(ok, "fine", {"docs_in": 2, "docs_out": 2}))
