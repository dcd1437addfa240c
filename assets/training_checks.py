"""The checkpoint's check: the training loss stayed finite and did not rise."""

import math

import dagster as dg

from assets.checks.results import verdict

LOSS_CHECK = "loss_finite_and_not_rising"


def loss_rise(losses: list[float]) -> float:
    """Mean loss of the second half of training minus the first half (0 with fewer than 2 steps)."""
    half = len(losses) // 2
    return (sum(losses[half:]) / len(losses[half:]) - sum(losses[:half]) / half) if half else 0.0


def loss_check(key: dg.AssetKey, losses: list[float], max_rise: float) -> dg.AssetCheckResult:
    """Failed when a step's loss is not finite, no step ran, or the second half's mean loss exceeds the first's
    by more than ``max_rise`` (a diverging run must not reach evaluation)."""
    finite = bool(losses) and all(math.isfinite(x) for x in losses)
    rise = loss_rise(losses) if finite else float("nan")
    problems = ([f"loss not finite over {len(losses)} steps"] if not finite else
                [f"mean loss rose {rise:.4f} > max_loss_rise {max_rise}"] if rise > max_rise else [])
    return verdict(key, LOSS_CHECK, problems,
                   {"finite": finite, "mean_loss_rise_second_half": rise, "steps": len(losses), "bound": max_rise})
