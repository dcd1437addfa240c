"""Per-stage continued pretraining: model/checkpoint[stage] trains on corpus/mixed[stage], starting
from the previous stage's checkpoint (the base model for the first stage)."""

import hashlib
import json
from pathlib import Path

import dagster as dg

from assets.checks.thresholds import check_thresholds
from assets.metadata import md_table
from assets.mixture import MIXED_KEY, mixture_dir
from assets.partitions import stage_partitions
from assets.training_checks import LOSS_CHECK, MIN_STEPS_FOR_TREND, loss_check
from curation.lake import Lake
from curation.mixture.curriculum import load_curriculum
from curation.training.checkpoint import checkpoint_dir, read_checkpoint_meta
from curation.training.config import load_training_config
from resources.configs import PipelineConfigs
from resources.lake import LakeResource
from resources.models import LLMResource

CHECKPOINT_KEY = dg.AssetKey(["model", "checkpoint"])


def training_dir(lake: Lake, stage: str) -> Path:
    """One training directory per stage and mixture content: the same mixture resumes, a new one starts fresh."""
    manifest = json.loads((mixture_dir(lake, stage) / "mixture_manifest.json").read_text())
    # the spec, stage and written index files define the training data; the stats also hold timings
    content = json.dumps({"spec": manifest["spec"], "stage": manifest["stage"], "files": manifest["files"]},
                         sort_keys=True, default=str)
    digest = hashlib.sha256(content.encode()).hexdigest()[:12]
    return lake.home / "models" / "checkpoints" / f"{stage}-{digest}"


def latest_stage_checkpoint(lake: Lake, stage: str) -> Path | None:
    """The newest finished checkpoint trained for ``stage`` (its training dir), or None."""
    root = lake.home / "models" / "checkpoints"
    found = [d for d in root.glob(f"{stage}-*") if read_checkpoint_meta(d)] if root.is_dir() else []
    return max(found, key=lambda d: read_checkpoint_meta(d)["saved_at"]) if found else None


def start_checkpoint(lake: Lake, curriculum, stage: str) -> Path | None:
    """What stage ``stage`` starts from: the previous stage's checkpoint; None (the base model) for the first."""
    previous = curriculum.previous(stage)
    if previous is None:
        return None
    found = latest_stage_checkpoint(lake, previous.name)
    if found is None:
        raise FileNotFoundError(f"stage {stage} continues from stage {previous.name}, which has no checkpoint: "
                                f"materialize model/checkpoint[{previous.name}] first")
    return checkpoint_dir(found)


@dg.asset(
    pool="gpu",  # GPU work: one step at a time (dagster_project/automation.py)
    key=CHECKPOINT_KEY,
    deps=[MIXED_KEY],
    partitions_def=stage_partitions,
    group_name="training",
    kinds={"pytorch", "safetensors"},
    check_specs=[dg.AssetCheckSpec(LOSS_CHECK, asset=CHECKPOINT_KEY, blocking=True,
                                   description="Every step's loss finite; the second half of training no higher on "
                                   "average than the first (within checks.yaml training.max_loss_rise).")],
    description="Continued pretraining on one curriculum stage's mixture, from the previous stage's checkpoint: "
    "the stage's LR segment (curriculum.yaml) on training.yaml, cosine with warmup (seed 000), optional KL to the "
    "base model; a ppl_ascending stage is read in file order. safetensors + self-describing JSON; resumes.",
)
def trained_checkpoint(context: dg.AssetExecutionContext, lake: LakeResource, llm: LLMResource,
                       configs: PipelineConfigs) -> dg.MaterializeResult:
    from curation.training.train import train

    data, stage_name = lake.lake, context.partition_key
    curriculum = load_curriculum(configs.path("curriculum.yaml"))
    stage = curriculum.stage(stage_name)
    cfg = load_training_config(configs.path("training.yaml"), **stage.lr)
    init_from = start_checkpoint(data, curriculum, stage_name)
    mixed = mixture_dir(data, stage_name)
    result = train(cfg, llm.model_dir(), mixed / "blend.txt", training_dir(data, stage_name),
                   log=lambda rec: context.log.info(f"{stage_name} step {rec['step']}: loss {rec['loss']:.4f}"),
                   mixture_manifest=mixed / "mixture_manifest.json", init_from=init_from,
                   shuffle=stage.ordering != "ppl_ascending")
    losses = [r["loss"] for r in result["losses"]]
    bounds = check_thresholds(configs)["training"]
    check = loss_check(CHECKPOINT_KEY, losses, bounds["max_loss_rise"],
                       bounds.get("min_steps_for_trend", MIN_STEPS_FOR_TREND))
    return dg.MaterializeResult(
        metadata={
            "checkpoint_dir": str(result["checkpoint_dir"]),
            "initialised_from": str(init_from) if init_from else "base model",
            "data_order": "file order (ppl_ascending)" if stage.ordering == "ppl_ascending" else "shuffled",
            "steps_done": result["steps_done"],
            "steps_this_run": result["steps_run"],
            "final_loss": round(float(result["final_loss"]), 4) if result["final_loss"] is not None else float("nan"),
            "loss_by_step": md_table(["step", "loss", "lr"], [(r["step"], r["loss"], r["lr"])
                                                             for r in result["losses"]]),
            "tokens_per_s": round(float(result["tokens_per_s"] or 0.0), 1),
            "s_per_step": round(float(result["s_per_step"] or 0.0), 2),
            "peak_rss_mb": round(float(result["peak_rss_mb"]), 1),
        },
        check_results=[check],
    )
