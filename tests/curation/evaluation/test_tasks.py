"""The lm-eval task files in configs/tasks load offline and score a tiny real model."""

import math

from curation.evaluation.task_data import BIGBENCH_TASKS, task_docs
from curation.evaluation.tasks import load_task_config, task_rows


def test_kept_bigbench_extracts_and_humaneval_load():
    for name in BIGBENCH_TASKS:
        docs = task_docs(name)
        assert len(docs) >= 100 and all(d["input"] for d in docs)
        if "choices" in docs[0]:
            assert all(0 <= d["label"] < len(d["choices"]) for d in docs)
    assert len(task_docs("humaneval")) == 164


def test_task_rows_score_a_tiny_model_with_item_counts(tiny_model_dir):
    config = {"tasks": ["bb_date_understanding", "bb_arithmetic_2d_add", "humaneval_sandboxed"], "limit": 4,
              "limits": {"humaneval_sandboxed": 2}, "batch_size": 4, "device": "cpu"}
    rows = task_rows(tiny_model_dir, "tiny", "base", config)
    got = {(r["task"], r["metric"]): r for r in rows}
    assert {("bb_date_understanding", "acc"), ("bb_arithmetic_2d_add", "exact_match"),
            ("humaneval_sandboxed", "pass_at_1")} <= set(got)
    assert got["bb_date_understanding", "acc"]["n_items"] == 4 and got["humaneval_sandboxed", "pass_at_1"]["n_items"] == 2
    assert all(0.0 <= r["value"] <= 1.0 and math.isfinite(r["value"]) for r in rows)
    assert got["humaneval_sandboxed", "pass_at_1"]["value"] == 0.0  # random weights write no working code
    assert all(r["stage"] == "base" and r["model"] == "tiny" for r in rows)


def test_unknown_config_keys_are_refused():
    import pytest

    with pytest.raises(ValueError, match="unknown downstream keys"):
        load_task_config({"taks": []})
