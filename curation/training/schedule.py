"""The learning-rate schedule: a pure function of the step (nanoGPT's ``get_lr``)."""

import math

from curation.training.config import TrainingConfig


def get_lr(step: int, cfg: TrainingConfig) -> float:
    """Linear warmup to ``max_lr`` over ``warmup_steps``, cosine decay to ``min_lr`` at
    ``decay_steps``, then flat at ``min_lr`` (seed 000: cosine 1e-5 -> 1e-6)."""
    if step < cfg.warmup_steps:
        return cfg.max_lr * (step + 1) / (cfg.warmup_steps + 1)
    if step >= cfg.decay_steps:
        return cfg.min_lr
    decay_ratio = (step - cfg.warmup_steps) / (cfg.decay_steps - cfg.warmup_steps)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))  # 1 -> 0
    return cfg.min_lr + coeff * (cfg.max_lr - cfg.min_lr)
