import numpy as np
import pytest

from curation.mixture.sampler import allocate_targets, plan_category, select_heldout


def test_targets_are_proportional_and_sum_to_the_budget():
    targets = allocate_targets({"a": 1.0, "b": 1.0, "c": 1.0}, 100)
    assert sum(targets.values()) == 100
    assert sorted(targets.values()) == [33, 33, 34]
    assert allocate_targets({"en": 0.8, "zh": 0.2}, 1000) == {"en": 800, "zh": 200}


def test_small_category_is_upsampled_with_whole_epochs_and_a_cut_remainder():
    ids = [f"d{i}" for i in range(3)]
    plan = plan_category("math", ids, np.array([10, 10, 10]), target_tokens=75, seed=7)
    assert plan.full_epochs == 2 and plan.repeat_factor == pytest.approx(2.5)
    occurrences = list(plan.occurrences(np.array([10, 10, 10])))
    assert sum(taken for _, _, taken in occurrences) == 75  # exactly the target
    times = np.bincount([i for i, _, _ in occurrences], minlength=3)
    assert sorted(times) == [2, 3, 3]  # every doc twice, the remainder's two docs once more (one cut)
    assert occurrences[-1][2] == 5 and occurrences[-1][1] == 2


def test_large_category_is_subsampled_deterministically_whatever_the_input_order():
    ids = [f"doc-{i}" for i in range(50)]
    lengths = np.full(50, 20)
    plan = plan_category("web", ids, lengths, target_tokens=200, seed=1)
    chosen = {ids[i] for i, _, _ in plan.occurrences(lengths)}
    assert plan.full_epochs == 0 and len(chosen) == 10 and plan.repeat_factor == pytest.approx(0.2)
    reversed_ids = ids[::-1]
    again = plan_category("web", reversed_ids, lengths, target_tokens=200, seed=1)
    assert {reversed_ids[i] for i, _, _ in again.occurrences(lengths)} == chosen
    other_seed = plan_category("web", ids, lengths, target_tokens=200, seed=2)
    assert {ids[i] for i, _, _ in other_seed.occurrences(lengths)} != chosen


def test_target_without_training_tokens_is_refused():
    with pytest.raises(ValueError, match="no training tokens"):
        plan_category("empty", [], np.array([], dtype=np.int64), target_tokens=10, seed=0)


def test_heldout_is_stable_clamped_and_keeps_a_training_document():
    ids = [f"id{i}" for i in range(200)]
    heldout = select_heldout(ids, fraction=0.5, min_docs=1, max_docs=8, seed=3)
    assert len(heldout) == 8
    assert select_heldout(list(reversed(ids)), 0.5, 1, 8, 3) == heldout
    assert len(select_heldout(ids, fraction=0.0, min_docs=2, max_docs=8, seed=3)) == 2
    assert select_heldout(["only"], fraction=0.9, min_docs=1, max_docs=8, seed=3) == set()
