"""Training knobs as one dataclass (nanoGPT style), loadable from ``configs/training.yaml``."""

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from curation.config_keys import refuse_unknown_keys


class TrainingConfigError(ValueError):
    """A training config that cannot run as written."""


@dataclass(frozen=True)
class TrainingConfig:
    # cosine decay from max_lr to min_lr (seed 000: 1e-5 -> 1e-6)
    max_lr: float = 1e-5
    min_lr: float = 1e-6
    warmup_steps: int = 1
    max_steps: int = 5
    # steps of the cosine; None = max_steps (nanoGPT's lr_decay_iters)
    lr_decay_steps: int | None = None
    # seed 000: micro batch 4; the CPU demo uses 2 x 128 tokens a micro step
    micro_batch_size: int = 2
    grad_accum_steps: int = 1
    seq_len: int = 128
    # weight of KL(p_train || p_base) against the frozen base model, the fix for catastrophic
    # forgetting proposed in seed 000 §4.2; 0 disables it and the base model is never loaded
    kl_coef: float = 0.0
    # AdamW as in nanoGPT / GPT-3: betas (0.9, 0.95), weight decay 0.1, clip grad norm at 1.0
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    seed: int = 1337
    device: str = "auto"  # "auto": cuda when present, else cpu
    dtype: str = "auto"  # "auto": bf16 autocast on cuda, fp32 on cpu; or "float32" / "bfloat16"
    checkpoint_every: int = 0  # steps between checkpoints; 0 = only at the end
    torch_threads: int = 0  # CPU threads; 0 = torch's default

    def __post_init__(self) -> None:
        if not 0 < self.min_lr <= self.max_lr:
            raise TrainingConfigError(f"need 0 < min_lr <= max_lr, got {self.min_lr}, {self.max_lr}")
        if self.max_steps < 1 or self.warmup_steps < 0 or self.warmup_steps > self.max_steps:
            raise TrainingConfigError("need max_steps >= 1 and 0 <= warmup_steps <= max_steps")
        if self.lr_decay_steps is not None and self.lr_decay_steps < self.warmup_steps:
            raise TrainingConfigError("lr_decay_steps must be >= warmup_steps")
        if min(self.micro_batch_size, self.grad_accum_steps) < 1 or self.seq_len < 2:
            raise TrainingConfigError("micro_batch_size, grad_accum_steps >= 1 and seq_len >= 2 required")
        if self.kl_coef < 0:
            raise TrainingConfigError("kl_coef must be >= 0")
        if self.dtype not in {"auto", "float32", "bfloat16"}:
            raise TrainingConfigError(f"dtype must be auto, float32 or bfloat16, got {self.dtype!r}")

    @property
    def decay_steps(self) -> int:
        return self.lr_decay_steps if self.lr_decay_steps is not None else self.max_steps

    @property
    def tokens_per_step(self) -> int:
        return self.micro_batch_size * self.grad_accum_steps * self.seq_len

    def to_dict(self) -> dict:
        return asdict(self)


def load_training_config(path: str | Path, **overrides) -> TrainingConfig:
    """Read ``path`` (YAML mapping of TrainingConfig fields), then apply ``overrides``."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    raw.update(overrides)
    refuse_unknown_keys(raw, (f.name for f in fields(TrainingConfig)), str(path), "training keys", TrainingConfigError)
    return TrainingConfig(**raw)
