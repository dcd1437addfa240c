"""The eval table's checks fail on the data they exist for: a missing score, forgetting, a collapse."""

import math

from assets.evaluation_checks import forgetting_result, rows_result
from assets.mixture import EVAL_KEY
from curation.evaluation.forgetting import ForgettingBounds, stage_changes

MODELS = ["base", "start", "checkpoint"]


def row(model, metric, name, value, n_items=None):
    return {"model": model, "stage": model, "metric": metric, "category": name, "task": name, "value": value,
            "n_items": n_items}


def judged(rows):
    changes = stage_changes(rows, MODELS, ForgettingBounds())
    return [c for c in changes if c["stage"] == "checkpoint"]


def test_forgetting_passes_when_nothing_got_worse_and_warns_on_forgetting():
    steady = [row(m, "loss", "en", 2.0) for m in MODELS] + [row(m, "acc", "bb_strategyqa", 0.6, 200) for m in MODELS]
    assert forgetting_result(EVAL_KEY, judged(steady)).passed
    forgot = steady[:2] + [row("checkpoint", "loss", "en", 2.3)] + steady[3:]  # +0.3 nats > 0.05
    result = forgetting_result(EVAL_KEY, judged(forgot))
    assert not result.passed and result.severity.value == "WARN"
    assert "forgot: checkpoint en loss: 2 -> 2.3" in result.metadata["failed"].value


def test_a_collapsed_task_blocks_with_its_numbers():
    rows = [row(m, "loss", "en", 2.0) for m in MODELS] + [row("base", "acc", "bb_strategyqa", 0.6, 200),
                                                         row("start", "acc", "bb_strategyqa", 0.6, 200),
                                                         row("checkpoint", "acc", "bb_strategyqa", 0.1, 200)]
    result = forgetting_result(EVAL_KEY, judged(rows))
    assert not result.passed and result.severity.value == "ERROR"
    assert "collapsed: checkpoint bb_strategyqa acc: 0.6 -> 0.1" in result.metadata["failed"].value


def test_nothing_to_compare_is_a_warning_not_a_pass():
    result = forgetting_result(EVAL_KEY, [])
    assert not result.passed and result.severity.value == "WARN"


def test_rows_check_names_the_missing_slice_and_task():
    value = {("en", m, k): 1.5 for m in MODELS for k in ("loss", "perplexity")}
    tasks = [row(m, "acc", "bb_strategyqa", 0.5, 10) for m in MODELS]
    assert rows_result(EVAL_KEY, {"en": []}, value, MODELS, ["bb_strategyqa"], tasks).passed
    value["en", "checkpoint", "loss"] = math.nan
    bad = rows_result(EVAL_KEY, {"en": []}, value, MODELS, ["bb_strategyqa", "humaneval_sandboxed"], tasks)
    assert not bad.passed and bad.severity.value == "ERROR"
    failed = bad.metadata["failed"].value
    assert "en/checkpoint/loss" in failed and "task humaneval_sandboxed/base" in failed
