"""The demo's per-run lines: a real warning gets its own line, checks that could not judge are one line per asset."""

from dagster_project.demo import RunSummary


def test_unjudged_checks_fold_into_one_line_per_asset_and_real_warnings_stay():
    summary = RunSummary(success=True, checks_passed=3)
    summary.warnings.append("check corpus/rewritten:drop_rate_in_band (WARN) dropped 3/5 = 0.600")
    summary.not_judged["synthetic/discipline_qa"] = ["no QA documents in my_notes: nothing to check",
                                                     "2 documents < min_items 3: no rate to judge",
                                                     "no rows to validate"]
    summary.not_judged["synthetic/cot_synthesis"] = ["no rows to validate"]
    assert summary.warning_lines() == [
        "check corpus/rewritten:drop_rate_in_band (WARN) dropped 3/5 = 0.600",
        "synthetic/discipline_qa: not judged: no QA documents in my_notes: nothing to check (and 2 more checks)",
        "synthetic/cot_synthesis: not judged: no rows to validate",
    ]
