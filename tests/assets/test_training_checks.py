"""The checkpoint's blocking check fails on a diverging or broken training run."""

import math

from assets.training import CHECKPOINT_KEY
from assets.training_checks import loss_check


def test_a_falling_loss_passes_and_a_rising_one_fails_with_its_numbers():
    assert loss_check(CHECKPOINT_KEY, [3.0, 2.8, 2.5, 2.4], max_rise=0.05).passed
    rising = loss_check(CHECKPOINT_KEY, [2.0, 2.1, 2.6, 2.9], max_rise=0.05)
    assert not rising.passed and "mean loss rose 0.7000 > max_loss_rise 0.05" in rising.metadata["failed"].value


def test_a_nan_step_or_no_step_fails():
    assert "not finite" in loss_check(CHECKPOINT_KEY, [2.0, math.nan], 0.05).metadata["failed"].value
    assert not loss_check(CHECKPOINT_KEY, [], 0.05).passed


def test_too_few_steps_for_a_trend_warn_but_a_nan_still_fails():
    short = loss_check(CHECKPOINT_KEY, [2.06, 2.33], 0.05, min_steps=8)  # the demo's 2 steps: different batches
    assert not short.passed and short.severity.value == "WARN"
    assert "2 steps < min_steps_for_trend 8" in short.description
    broken = loss_check(CHECKPOINT_KEY, [2.0, math.inf], 0.05, min_steps=8)
    assert not broken.passed and broken.severity.value == "ERROR"
    long_rise = loss_check(CHECKPOINT_KEY, [2.0] * 4 + [2.5] * 4, 0.05, min_steps=8)
    assert long_rise.severity.value == "ERROR" and not long_rise.passed
