"""The stage checks fail on the bad data they exist for (a check that cannot fail is a defect)."""

import pyarrow as pa

from curation.document import DOC_SCHEMA
from curation.lake import Lake, PartitionWriter
from curation.scoring import scored_schema
from assets.checks.documents import drop_rate_check
from assets.scored_checks import SCORED_KEY, scored_check_results


def write_scored(home, category, n, quality, lang_mismatch=False, ppl=10.0):
    schema = scored_schema(DOC_SCHEMA)
    rows = [{"id": f"d{i}", "text": f"document number {i}", "category": category, "source_shard": "s",
             "source_line": i, "lang": "en", "lang_score": 0.9, "lang_mismatch": lang_mismatch, "cjk_fraction": 0.0,
             "ppl": ppl, "loss_bucket": f"loss{i % 3}", "dclm_score": 0.5, "edu_score": 2.0, "edu_int": 2,
             "ensemble_bucket": 10, "quality_bucket": quality(i)} for i in range(n)]
    lake = Lake(home)
    with PartitionWriter(lake.stage_dir("scored", category), schema) as out:
        out.write(pa.Table.from_pylist(rows, schema=schema))
    return lake


def results(lake, category):
    stats = {"docs_in": 100, "docs_out": 100, "languages": {"en": 100}}
    return {r.check_name: r.passed for r in scored_check_results(lake, category, stats)}


def test_scored_checks_pass_on_sane_scores(home):
    lake = write_scored(home, "ok", 90, quality=lambda i: ["high", "mid", "low"][i % 3])
    assert results(lake, "ok") == {"gx_scores_valid": True, "bucket_distribution_sane": True,
                                   "language_mix_expected": True, "drop_rate_in_band": True}


def test_degenerate_bucket_wrong_language_and_bad_range_fail(home):
    lake = write_scored(home, "bad", 90, quality=lambda i: "high", lang_mismatch=True, ppl=0.5)
    got = results(lake, "bad")
    assert got["bucket_distribution_sane"] is False  # every document "high": a degenerate scorer
    assert got["language_mix_expected"] is False
    assert got["gx_scores_valid"] is False  # perplexity below 1 is impossible


def test_drop_rate_band_catches_a_silent_mass_removal():
    band = {"min": 0.0, "max": 0.6}
    assert drop_rate_check(SCORED_KEY, {"docs_in": 1000, "docs_out": 20}, band).passed is False
    assert drop_rate_check(SCORED_KEY, {"docs_in": 1000, "docs_out": 900}, band).passed is True


def test_drop_rate_of_a_tiny_sample_is_not_judged_but_a_large_one_is():
    band = {"min": 0.0, "max": 0.5, "min_docs": 20}
    tiny = drop_rate_check(SCORED_KEY, {"docs_in": 4, "docs_out": 1}, band)
    assert tiny.passed is False and tiny.severity.value == "WARN"  # says it cannot judge, never a silent pass
    assert drop_rate_check(SCORED_KEY, {"docs_in": 40, "docs_out": 10}, band).passed is False
