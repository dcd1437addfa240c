"""``configs/evaluation.yaml``: what each curriculum stage's evaluation measures and how it judges forgetting."""

from dataclasses import dataclass
from pathlib import Path

import yaml

from curation.config_keys import refuse_unknown_keys
from curation.evaluation.forgetting import ForgettingBounds
from curation.evaluation.tasks import load_task_config

HELDOUT_DEFAULTS = {"max_tokens_per_category": 512, "seq_len": 128}


@dataclass(frozen=True)
class StageEvalConfig:
    heldout: dict
    downstream: dict  # load_task_config's keys; tasks: [] turns downstream tasks off
    forgetting: ForgettingBounds


def load_stage_eval_config(path: str | Path, tasks_dir: str | Path | None = None) -> StageEvalConfig:
    """``tasks_dir`` defaults to ``tasks/`` beside the file (a user's config copy brings its task files)."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    refuse_unknown_keys(raw, {"heldout", "downstream", "forgetting"}, str(path), "keys")
    heldout = dict(raw.get("heldout") or {})
    refuse_unknown_keys(heldout, HELDOUT_DEFAULTS, f"{path} heldout", "keys")
    downstream = dict(raw.get("downstream") or {})
    local_tasks = path.parent / "tasks"
    if "tasks_dir" not in downstream and (tasks_dir or local_tasks.is_dir()):
        downstream["tasks_dir"] = str(tasks_dir or local_tasks)
    return StageEvalConfig(heldout={**HELDOUT_DEFAULTS, **heldout}, downstream=load_task_config(downstream),
                           forgetting=ForgettingBounds.from_mapping(raw.get("forgetting")))
