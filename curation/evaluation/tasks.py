"""Downstream task scores through the lm-evaluation-harness (``lm-eval`` 0.4.13), for the eval table.

The task files live in ``configs/tasks/`` (lm-eval YAML; its hub tasks do not work offline): BIG-bench
multiple-choice tasks scored by the log-likelihood of each choice (acc, and acc_norm normalised by the
choice's length in bytes), BIG-bench arithmetic as greedy generation with exact match, and HumanEval
pass@1 executed in ``sandbox``. ``task_rows`` returns one row per model x stage x metric x task with the
number of items the score rests on, the shape of the DuckDB ``eval_table``.
"""

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from curation.config_keys import refuse_unknown_keys
from curation.evaluation.task_data import TASKS_DIR
from curation.hashing import file_sha256, short_digest

DEFAULT_TASKS = ("bb_arithmetic_2d_add", "bb_date_understanding", "bb_elementary_math_qa",
                 "bb_logical_deduction_3", "bb_strategyqa", "humaneval_sandboxed")


def load_task_config(config: Mapping | str | Path | None) -> dict:
    """The ``downstream`` section of ``configs/ablation.yaml`` (or a mapping of the same keys)."""
    if config is None:
        config = {}
    if isinstance(config, str | Path):
        config = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
        config = config.get("downstream", config)
    out = {"tasks": list(DEFAULT_TASKS), "limit": 24, "limits": {}, "batch_size": 8, "device": "auto",
           "tasks_dir": str(TASKS_DIR)}
    refuse_unknown_keys(config, out, "", "downstream keys")
    out.update(config)
    return out


def _device(name: str) -> str:
    import torch

    return ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name


def task_rows(model_dir: str | Path, model_name: str, stage: str, config: Mapping | str | Path | None = None) -> list[dict]:
    """Score ``model_dir`` (a local HF directory) on the configured tasks with lm-eval.

    Rows: ``{model, stage, metric, category, task, value, stderr, n_items, n_docs, n_tokens}`` with
    ``category`` = ``task`` = the task name (the eval table's category column) and ``n_docs`` = ``n_items``.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    cfg = load_task_config(config)
    tasks = list(cfg["tasks"])
    limits = {t: int(cfg["limits"].get(t, cfg["limit"])) for t in tasks}
    manager = TaskManager(include_path=str(cfg["tasks_dir"]), include_defaults=False)
    missing = [t for t in tasks if t not in manager.all_tasks]
    if missing:
        raise ValueError(f"tasks {missing} have no YAML under {cfg['tasks_dir']}; found {sorted(manager.all_tasks)}")
    lm = HFLM(pretrained=str(model_dir), device=_device(cfg["device"]), batch_size=int(cfg["batch_size"]),
              dtype="float32" if _device(cfg["device"]) == "cpu" else "bfloat16")
    # the sandbox runs the generated code (HumanEval), which is why unsafe tasks may run at all
    out = simple_evaluate(model=lm, tasks=tasks, task_manager=manager, samples={t: list(range(n)) for t, n in limits.items()},
                          confirm_run_unsafe_code=True, log_samples=False, bootstrap_iters=0, random_seed=0)
    rows = []
    for task in tasks:
        result = out["results"].get(task, {})
        n_items = int(out.get("n-samples", {}).get(task, {}).get("effective", limits[task]))
        for key, value in sorted(result.items()):
            if "," not in key or "_stderr" in key or not isinstance(value, int | float):
                continue
            metric = key.split(",")[0]
            stderr = result.get(key.replace(metric, f"{metric}_stderr", 1))
            rows.append({"model": model_name, "stage": stage, "metric": metric, "category": task, "task": task,
                         "value": float(value),
                         "stderr": float(stderr) if isinstance(stderr, int | float) and math.isfinite(stderr) else None,
                         "n_items": n_items, "n_docs": n_items, "n_tokens": None})
    return rows


def _model_fingerprint(model_dir: Path) -> str:
    """sha256 over a model directory's weight and config files: the same weights score the same."""
    files = sorted(p for p in Path(model_dir).iterdir()
                   if p.is_file() and p.suffix in {".safetensors", ".bin", ".json", ".model", ".txt"})
    if not files:
        raise FileNotFoundError(f"no model files in {model_dir}")
    return short_digest("\n".join(f"{p.name}:{file_sha256(p)}" for p in files), 16)


def cached_task_rows(model_dir: str | Path, model_name: str, stage: str, config: Mapping | str | Path | None,
                     cache_dir: Path) -> tuple[list[dict], bool]:
    """``task_rows``, kept as JSON under ``cache_dir`` keyed by (model weights, task config, task files):
    the base model is scored once for every stage, and a stage whose checkpoint did not change is
    not scored again. Returns (rows with ``model``/``stage`` set for this call, whether it was cached)."""
    cfg = load_task_config(config)
    task_files = sorted(Path(cfg["tasks_dir"]).rglob("*"))
    key = short_digest("\n".join([
        _model_fingerprint(Path(model_dir)), json.dumps({k: v for k, v in cfg.items() if k != "tasks_dir"}, sort_keys=True),
        *(f"{p.relative_to(cfg['tasks_dir'])}:{file_sha256(p)}" for p in task_files
          if p.is_file() and "__pycache__" not in p.parts)]), 16)
    path = Path(cache_dir) / f"{key}.json"
    if path.is_file():
        rows, hit = json.loads(path.read_text(encoding="utf-8")), True
    else:
        rows, hit = task_rows(model_dir, model_name, stage, cfg), False
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows), encoding="utf-8")
        tmp.replace(path)
    return [{**r, "model": model_name, "stage": stage} for r in rows], hit
