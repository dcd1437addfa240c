"""Nemotron-CC style bucketing (Su et al. 2024, "Nemotron-CC", §2.1; seed 003).

Each classifier's score becomes an integer 0..19 by its percentile among the raw pool (edges
fixed when the classifier is trained, so a partition's buckets do not depend on what else is
in it); the ensemble bucket is the max over classifiers; buckets map to high / mid / low.
Perplexity gets per-category terciles ``loss0/1/2`` (seed 000's ``zh_cc-high-loss0/1/2``).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

N_BUCKETS = 20  # Nemotron-CC: 20 percentile buckets, 0 (worst 5 %) .. 19 (best 5 %)
LOSS_BUCKETS = ("loss0", "loss1", "loss2")  # seed 000: low, middle, high perplexity tercile


@dataclass(frozen=True)
class EnsembleConfig:
    # Nemotron-CC §2.1: 19 = high, 18 = medium-high, 12-17 medium, 7-11 medium-low, 0-6 low;
    # folded into three: high = high + medium-high, mid = medium + medium-low, low = low.
    high_min_bucket: int = 18
    mid_min_bucket: int = 7
    # gated rules (gating.py): a high document is exempt from a failure within this factor of the rule's
    # threshold (0.31 duplicate lines against Gopher's 0.30); past it (30 copies of one line: 0.97) the
    # document is what the rule targets and drops however it scores. None: every failure is exempt.
    gate_exempt_within: float | None = 2.0

    def __post_init__(self):
        if not 0 <= self.mid_min_bucket <= self.high_min_bucket <= N_BUCKETS - 1:
            raise ValueError(
                f"ensemble thresholds must satisfy 0 <= mid_min_bucket <= high_min_bucket <= 19, "
                f"got mid={self.mid_min_bucket} high={self.high_min_bucket}"
            )
        if self.gate_exempt_within is not None and self.gate_exempt_within < 1:
            raise ValueError(f"ensemble.gate_exempt_within must be >= 1 (a factor of the threshold), "
                             f"got {self.gate_exempt_within}")


def percentile_edges(scores: Sequence[float] | np.ndarray) -> list[float]:
    """The 19 inner edges of 20 equal-mass bins of ``scores`` (a classifier's raw-pool scores)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0 or not np.all(np.isfinite(scores)):
        raise ValueError("percentile_edges needs a non-empty array of finite scores")
    return np.quantile(scores, np.arange(1, N_BUCKETS) / N_BUCKETS).tolist()


def to_buckets(scores: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Integer bucket 0..19 of each score (``edges`` from ``percentile_edges``)."""
    if len(edges) != N_BUCKETS - 1:
        raise ValueError(f"expected {N_BUCKETS - 1} bucket edges, got {len(edges)}")
    return np.searchsorted(np.asarray(edges), np.asarray(scores, dtype=np.float64), side="right").astype(np.int8)


def ensemble_buckets(per_classifier: Sequence[np.ndarray]) -> np.ndarray:
    """Nemotron-CC: the max bucket over classifiers (a document good by any judge is kept high)."""
    if not per_classifier:
        raise ValueError("ensemble_buckets needs at least one classifier's buckets")
    return np.max(np.stack(per_classifier), axis=0).astype(np.int8)


def quality_labels(buckets: np.ndarray, cfg: EnsembleConfig) -> np.ndarray:
    return np.where(
        buckets >= cfg.high_min_bucket, "high", np.where(buckets >= cfg.mid_min_bucket, "mid", "low")
    ).astype(object)


def tercile_edges(values: np.ndarray) -> tuple[float, float]:
    """Cut points of the category's perplexity terciles (finite values only)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (float("inf"), float("inf"))
    lo, hi = np.quantile(finite, [1 / 3, 2 / 3])
    return float(lo), float(hi)


def loss_buckets(values: np.ndarray, edges: tuple[float, float]) -> np.ndarray:
    """loss0 (lowest perplexity third) .. loss2; a missing (NaN) perplexity gets None."""
    idx = np.searchsorted(np.asarray(edges), values, side="right")
    out = np.array(LOSS_BUCKETS, dtype=object)[np.minimum(idx, 2)]
    out[~np.isfinite(values)] = None
    return out
