"""Forgetting per category/task over curriculum stages, on hand-made eval rows."""

import pytest

from curation.evaluation.forgetting import ForgettingBounds, forgetting_check, stage_changes

STAGES = ["base", "stage1", "stage2"]


def row(stage, metric, category, value, n_items=None):
    return {"model": "m", "stage": stage, "metric": metric, "category": category, "value": value, "n_items": n_items}


def by(changes, stage, category, metric):
    return next(c for c in changes if c["stage"] == stage and c["category"] == category and c["metric"] == metric)


def test_loss_rise_beyond_bound_is_forgetting_and_a_drop_is_improvement():
    rows = [row("base", "loss", "en", 2.00), row("stage1", "loss", "en", 2.03), row("stage2", "loss", "en", 2.20),
            row("base", "loss", "zh", 3.0), row("stage1", "loss", "zh", 2.5), row("stage2", "loss", "zh", 2.4)]
    changes = stage_changes(rows, STAGES, ForgettingBounds(max_loss_rise=0.05))
    assert by(changes, "stage1", "en", "loss")["status"] == "ok"  # +0.03 within the bound
    en2 = by(changes, "stage2", "en", "loss")
    assert en2["status"] == "forgot" and en2["change_vs_base"] == pytest.approx(0.20)
    assert en2["change_vs_previous"] == pytest.approx(0.17) and en2["status_vs_previous"] == "forgot"
    assert by(changes, "stage2", "zh", "loss")["status"] == "improved"
    check = forgetting_check(changes)
    assert check["severity"] == "warn" and not check["passed"]
    assert "stage2 en loss: 2 -> 2.2" in check["forgot"][0]


def test_a_score_drop_within_sampling_noise_is_not_flagged_but_one_beyond_it_is():
    # 0.60 -> 0.50 on 20 items: se of the difference ~0.16, not evidence
    small = [row("base", "acc", "date_understanding", 0.60, 20), row("stage1", "acc", "date_understanding", 0.50, 20)]
    assert stage_changes(small, STAGES[:2])[0]["status"] == "ok"
    # the same drop on 2,000 items is beyond noise and beyond the 0.02 bound
    big = [row("base", "acc", "date_understanding", 0.60, 2000), row("stage1", "acc", "date_understanding", 0.50, 2000)]
    assert stage_changes(big, STAGES[:2])[0]["status"] == "forgot"


def test_collapse_blocks():
    rows = [row("base", "pass@1", "humaneval", 0.30, 164), row("stage1", "pass@1", "humaneval", 0.02, 164),
            row("base", "loss", "en", 2.0), row("stage1", "loss", "en", 2.01)]
    changes = stage_changes(rows, STAGES[:2])
    assert by(changes, "stage1", "humaneval", "pass@1")["status"] == "collapse"
    check = forgetting_check(changes)
    assert check["severity"] == "block" and "humaneval" in check["collapsed"][0]


def test_loss_collapse_and_perplexity_rows_are_judged_once():
    rows = [row("base", "loss", "code", 1.0), row("stage1", "loss", "code", 2.5),
            row("base", "perplexity", "code", 2.7), row("stage1", "perplexity", "code", 12.2)]
    changes = stage_changes(rows, STAGES[:2])
    assert [c["metric"] for c in changes] == ["loss"] and changes[0]["status"] == "collapse"


def test_nothing_to_compare_warns_instead_of_passing():
    check = forgetting_check(stage_changes([row("base", "loss", "en", 2.0)], STAGES))
    assert check["severity"] == "warn" and check["passed"] is False and "not judged" in check["text"]


def test_clean_stages_pass_and_bad_inputs_are_refused():
    rows = [row("base", "acc", "t", 0.5, 100), row("stage1", "acc", "t", 0.52, 100)]
    assert forgetting_check(stage_changes(rows, STAGES[:2]))["passed"]
    with pytest.raises(ValueError, match="base and at least one stage"):
        stage_changes(rows, ["base"])
    with pytest.raises(ValueError, match="unknown forgetting bounds"):
        ForgettingBounds.from_mapping({"max_loss": 1})
