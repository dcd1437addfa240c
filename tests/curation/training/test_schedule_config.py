from itertools import pairwise

import pytest

from curation.training.config import TrainingConfig, TrainingConfigError, load_training_config
from curation.training.schedule import get_lr


def test_lr_warms_up_linearly_then_decays_by_cosine_to_min_lr():
    cfg = TrainingConfig(max_lr=1e-5, min_lr=1e-6, warmup_steps=4, max_steps=20)
    warmup = [get_lr(s, cfg) for s in range(4)]
    assert warmup == pytest.approx([1e-5 * (s + 1) / 5 for s in range(4)])
    assert get_lr(4, cfg) == pytest.approx(1e-5)  # peak right after warmup
    decay = [get_lr(s, cfg) for s in range(4, 21)]
    assert all(a > b for a, b in pairwise(decay))
    assert get_lr(12, cfg) == pytest.approx((1e-5 + 1e-6) / 2)  # cosine midpoint
    assert get_lr(20, cfg) == get_lr(500, cfg) == 1e-6


def test_no_warmup_starts_at_max_lr():
    cfg = TrainingConfig(warmup_steps=0, max_steps=10)
    assert get_lr(0, cfg) == cfg.max_lr and get_lr(10, cfg) == cfg.min_lr


def test_repo_training_config_loads_with_overrides_and_refuses_typos(tmp_path):
    cfg = load_training_config("configs/training.yaml", max_steps=3)
    assert (cfg.max_lr, cfg.min_lr, cfg.max_steps) == (1e-5, 1e-6, 3)  # seed 000's schedule
    (tmp_path / "t.yaml").write_text("max_lr: 1e-5\nmicro_bach_size: 4\n")
    with pytest.raises(TrainingConfigError, match="micro_bach_size"):
        load_training_config(tmp_path / "t.yaml")
    with pytest.raises(TrainingConfigError, match="min_lr"):
        TrainingConfig(max_lr=1e-6, min_lr=1e-5)
