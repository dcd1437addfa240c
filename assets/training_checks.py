"""The checkpoint's check: the training loss stayed finite and did not rise."""

import math

import dagster as dg

from assets.checks.results import cannot_judge, verdict

LOSS_CHECK = "loss_finite_and_not_rising"
MIN_STEPS_FOR_TREND = 8  # checks.yaml training.min_steps_for_trend, for a user's file that lacks it


def loss_rise(losses: list[float]) -> float:
    """Mean loss of the second half of training minus the first half (0 with fewer than 2 steps)."""
    half = len(losses) // 2
    return (sum(losses[half:]) / len(losses[half:]) - sum(losses[:half]) / half) if half else 0.0


def loss_check(key: dg.AssetKey, losses: list[float], max_rise: float, min_steps: int = 1) -> dg.AssetCheckResult:
    """Failed when a step's loss is not finite, no step ran, or the second half's mean loss exceeds the first's
    by more than ``max_rise`` (a diverging run must not reach evaluation). Every step trains on a new batch, so
    with fewer than ``min_steps`` steps the halves' means differ by batch difficulty, not by a trend: then the
    trend is not judged (WARN), while a loss that is not finite still fails."""
    finite = bool(losses) and all(math.isfinite(x) for x in losses)
    rise = loss_rise(losses) if finite else float("nan")
    metadata = {"finite": finite, "mean_loss_rise_second_half": rise, "steps": len(losses), "bound": max_rise,
                "min_steps_for_trend": min_steps}
    if finite and len(losses) < min_steps:
        return cannot_judge(key, LOSS_CHECK, f"losses finite, but {len(losses)} steps < min_steps_for_trend "
                            f"{min_steps}: a rise of {rise:.4f} between single batches is no trend", metadata)
    problems = ([f"loss not finite over {len(losses)} steps"] if not finite else
                [f"mean loss rose {rise:.4f} > max_loss_rise {max_rise}"] if rise > max_rise else [])
    return verdict(key, LOSS_CHECK, problems, metadata)
