"""The quality weight of a document: how much the selection (and then the mixture) favours it.

Seed 000's second lesson: only ``high`` documents cannot fill a 30B budget, so ``mid`` and ``low`` are
sampled by a quality score instead of dropped or taken blindly. The score ``s`` in [0, 1] is the scoring
stage's Nemotron-CC ensemble bucket / 19 (or a classifier's probability, or the edu score / 5); then

- ``softmax``: ``w = bucket_weight[quality_bucket] * exp((s - 1) / temperature)`` (1 at the best score);
- ``thresholds``: ``w = bucket_weight[quality_bucket] * weight of the highest threshold s reaches``;

times ``topic_confidence ** topic_confidence_power``, never below ``floor``. A document without scores
(a stage run without the models) gets s = 0.5 and the bucket weight of ``mid``.
"""

import math

import numpy as np

from curation.scoring.edu_regressor import MAX_SCORE
from curation.scoring.ensemble import N_BUCKETS
from curation.selection.config import QualityConfig

MISSING_SCORE = 0.5


def normalised_score(values: list, score: str) -> np.ndarray:
    """The configured score column scaled to [0, 1] (missing: ``MISSING_SCORE``)."""
    scale = {"ensemble_bucket": N_BUCKETS - 1, "dclm_score": 1.0, "edu_score": float(MAX_SCORE)}[score]
    out = np.array([MISSING_SCORE if v is None or not math.isfinite(v) else v / scale for v in values],
                   dtype=np.float64)
    return np.clip(out, 0.0, 1.0)


def quality_weights(scores: np.ndarray, buckets: list, topic_confidence: np.ndarray, cfg: QualityConfig) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    bucket = np.array([cfg.bucket_weights.get(b or "mid", cfg.bucket_weights.get("mid", 1.0)) for b in buckets],
                      dtype=np.float64)
    if cfg.mode == "softmax":
        w = np.exp((scores - 1.0) / cfg.temperature)
    else:
        w = np.full(len(scores), cfg.floor)
        for t in sorted(cfg.thresholds, key=lambda t: t.min_score):
            w = np.where(scores >= t.min_score, t.weight, w)
    w = w * bucket
    if cfg.topic_confidence_power:
        w = w * np.power(np.clip(topic_confidence, 1e-6, 1.0), cfg.topic_confidence_power)
    return np.maximum(w, cfg.floor)
