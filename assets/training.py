"""Whole-mixture assets: the token mixture, the continued-pretraining checkpoint, the eval table."""

import hashlib
import json
import math
from pathlib import Path

import yaml

import dagster as dg

from assets.metadata import md_table
from curation.document import DROP_SCHEMA
from curation.lake import Lake, PartitionWriter
from curation.mixture.spec import load_mixture_spec
from curation.mixture.stage import build_mixture, read_heldout_texts, share_violations
from curation.training.checkpoint import checkpoint_dir
from curation.training.config import load_training_config
from assets.checks.thresholds import check_thresholds
from resources.configs import PipelineConfigs
from resources.lake import LakeResource
from resources.models import LLMResource

MIXED_KEY = dg.AssetKey(["corpus", "mixed"])
CHECKPOINT_KEY = dg.AssetKey(["model", "checkpoint"])
EVAL_KEY = dg.AssetKey(["model", "eval_table"])


def mixture_dir(lake: Lake) -> Path:
    return lake.home / "lake" / "mixed"


def training_dir(lake: Lake) -> Path:
    """One training directory per mixture content: the same mixture resumes, a new one starts fresh."""
    manifest = json.loads((mixture_dir(lake) / "mixture_manifest.json").read_text())
    # the spec and the written index files define the training data; the stats also hold timings
    content = json.dumps({"spec": manifest["spec"], "files": manifest["files"]}, sort_keys=True)
    digest = hashlib.sha256(content.encode()).hexdigest()[:12]
    return lake.home / "models" / "checkpoints" / f"mixture-{digest}"


@dg.asset(
    key=MIXED_KEY,
    deps=[dg.AssetKey(["corpus", "rewritten"])],
    group_name="mixture",
    kinds={"parquet"},
    check_specs=[
        dg.AssetCheckSpec("proportions_match_spec", asset=MIXED_KEY, blocking=True,
                          description="Every category's token share within the spec's tolerance."),
        dg.AssetCheckSpec("heldout_not_in_train", asset=MIXED_KEY, blocking=True,
                          description="No held-out document (nor a rewrite of one) is in the training split: the "
                          "eval set is not contaminated."),
        dg.AssetCheckSpec("repeats_within_max", asset=MIXED_KEY,
                          description="Warns when a category is repeated more than the spec's max_repeat epochs "
                          "(Muennighoff et al. 2023: returns vanish after ~4)."),
    ],
    description="Token mixture from the seed-000-style spec (configs/mixture.yaml): held-out split per category, "
    "upsampling reported, tokenized with the base model's tokenizer, Megatron .bin/.idx + blend list.",
)
def mixed_corpus(context: dg.AssetExecutionContext, lake: LakeResource, llm: LLMResource,
                 configs: PipelineConfigs) -> dg.MaterializeResult:
    from transformers import AutoTokenizer

    data = lake.lake
    spec = load_mixture_spec(configs.path("mixture.yaml"))
    tokenizer = AutoTokenizer.from_pretrained(llm.model_dir(), local_files_only=True)
    sources = {c: data.iter_batches("rewritten", c) for c in data.stage_categories("rewritten")}
    with PartitionWriter(data.drops_dir("mixed", "all"), DROP_SCHEMA) as drops_out:
        stats = build_mixture(sources, tokenizer, spec, mixture_dir(data), drops_writer=drops_out)
    lake.catalog.record_stage_stats("mixed", "all", stats["docs_in"], stats["docs_out"], stats, context.run_id)
    rows = [(name, c["spec_share"], c["target_share"], c["actual_share"], c["actual_tokens"], c["repeat_factor"],
             c["heldout_docs"]) for name, c in sorted(stats["categories"].items())]
    over_repeated = [f"{n} ({c['repeat_factor']:.1f}x)" for n, c in sorted(stats["categories"].items())
                     if c["exceeds_max_repeat"]]
    problems = share_violations(stats)
    share_problems = [p for p in problems if "held-out" not in p]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": stats["docs_out"],
            "total_tokens": stats["total_tokens"],
            "categories": md_table(["category", "spec", "target", "actual", "tokens", "repeat", "held-out docs"], rows),
            "upsampled": ", ".join(n for n, c in sorted(stats["categories"].items()) if c["repeat_factor"] > 1) or "none",
            "missing_categories": ", ".join(stats["missing_categories"]) or "none",
            "blend_file": str(mixture_dir(data) / "blend.txt"),
        },
        check_results=[
            dg.AssetCheckResult(asset_key=MIXED_KEY, check_name="proportions_match_spec", passed=not share_problems,
                                metadata={"tolerance": stats["tolerance"],
                                          "violations": "\n".join(share_problems) or "none"}),
            dg.AssetCheckResult(asset_key=MIXED_KEY, check_name="heldout_not_in_train",
                                passed=stats["heldout_ids_in_train"] == 0,
                                metadata={"heldout_ids_in_train": stats["heldout_ids_in_train"]}),
            dg.AssetCheckResult(asset_key=MIXED_KEY, check_name="repeats_within_max", passed=not over_repeated,
                                severity=dg.AssetCheckSeverity.WARN,
                                metadata={"max_repeat": spec.max_repeat,
                                          "over_repeated": ", ".join(over_repeated) or "none"}),
        ],
    )


@dg.asset(
    key=CHECKPOINT_KEY,
    deps=[MIXED_KEY],
    group_name="training",
    kinds={"pytorch", "safetensors"},
    check_specs=[dg.AssetCheckSpec("loss_finite_and_not_rising", asset=CHECKPOINT_KEY, blocking=True,
                                   description="Every step's loss finite; the second half of training no higher on "
                                   "average than the first (within checks.yaml training.max_loss_rise).")],
    description="Continued pretraining of the base model on the mixture: cosine LR 1e-5 → 1e-6 with warmup (seed "
    "000), optional KL penalty against the frozen base model; safetensors + self-describing JSON; resumes.",
)
def trained_checkpoint(context: dg.AssetExecutionContext, lake: LakeResource, llm: LLMResource,
                       configs: PipelineConfigs) -> dg.MaterializeResult:
    from curation.training.train import train

    data = lake.lake
    cfg = load_training_config(configs.path("training.yaml"))
    result = train(cfg, llm.model_dir(), mixture_dir(data) / "blend.txt", training_dir(data),
                   log=lambda rec: context.log.info(f"step {rec['step']}: {rec}"),
                   mixture_manifest=mixture_dir(data) / "mixture_manifest.json")
    losses = [r["loss"] for r in result["losses"]]
    half = len(losses) // 2
    rise = (sum(losses[half:]) / len(losses[half:]) - sum(losses[:half]) / half) if half else 0.0
    finite = bool(losses) and all(math.isfinite(x) for x in losses)
    max_rise = check_thresholds()["training"]["max_loss_rise"]
    return dg.MaterializeResult(
        metadata={
            "checkpoint_dir": str(result["checkpoint_dir"]),
            "steps_done": result["steps_done"],
            "steps_this_run": result["steps_run"],
            "final_loss": float(result["final_loss"]) if result["final_loss"] is not None else float("nan"),
            "loss_by_step": md_table(["step", "loss", "lr"], [(r["step"], r["loss"], r["lr"])
                                                             for r in result["losses"]]),
            "tokens_per_s": float(result["tokens_per_s"] or 0.0),
            "s_per_step": float(result["s_per_step"] or 0.0),
            "peak_rss_mb": float(result["peak_rss_mb"]),
            "kl_coef": cfg.kl_coef,
        },
        check_results=[dg.AssetCheckResult(
            asset_key=CHECKPOINT_KEY, check_name="loss_finite_and_not_rising",
            passed=finite and rise <= max_rise,
            metadata={"finite": finite, "mean_loss_rise_second_half": rise, "max_loss_rise": max_rise})],
    )


@dg.asset(
    key=EVAL_KEY,
    deps=[CHECKPOINT_KEY, MIXED_KEY],
    group_name="evaluation",
    kinds={"duckdb"},
    check_specs=[dg.AssetCheckSpec("row_for_every_category_and_model", asset=EVAL_KEY,
                                   description="A finite loss and perplexity for every held-out category, for both "
                                   "the base model and the checkpoint.")],
    description="Held-out perplexity per category for the base model and the trained checkpoint, with the "
    "difference (catastrophic-forgetting signal, seed 002); DuckDB table eval_table.",
)
def eval_table(context: dg.AssetExecutionContext, lake: LakeResource, llm: LLMResource,
               configs: PipelineConfigs) -> dg.MaterializeResult:
    from curation.evaluation.perplexity import forgetting_rows, heldout_perplexity

    data = lake.lake
    texts = read_heldout_texts(mixture_dir(data))
    checkpoint = checkpoint_dir(training_dir(data))
    budget = {"max_tokens_per_category": 512, "seq_len": 128}  # CPU demo; raise on a GPU
    base = heldout_perplexity(llm.model_dir(), texts, model_name="base", **budget)
    trained = heldout_perplexity(checkpoint, texts, model_name="checkpoint", **budget)
    rows = base + trained + forgetting_rows(base, trained, model="checkpoint-vs-base")
    # downstream tasks through lm-eval (issue 16): one row per model x metric x task with its item count
    from curation.evaluation.forgetting import ForgettingBounds, forgetting_check, stage_changes
    from curation.evaluation.tasks import task_rows
    tasks = (task_rows(llm.model_dir(), "base", "base", configs.path("ablation.yaml"))
             + task_rows(checkpoint, "checkpoint", "checkpoint", configs.path("ablation.yaml")))
    rows += tasks
    forgetting = forgetting_check(stage_changes(
        [{**r, "stage": r["model"]} for r in base + trained + tasks], ["base", "checkpoint"],
        ForgettingBounds.from_mapping(yaml.safe_load(configs.path("ablation.yaml").read_text()).get("forgetting"))))
    with lake.catalog.connect() as con:
        con.executemany(
            "INSERT INTO eval_table (run_id, model, metric, category, value, n_docs, n_tokens) VALUES (?,?,?,?,?,?,?)",
            [[context.run_id, r["model"], r["metric"], r["category"], r["value"], r["n_docs"], r["n_tokens"]]
             for r in rows])
    by_key = {(r["category"], r["model"], r["metric"]): r["value"] for r in rows}
    table = [(c, by_key.get((c, "base", "perplexity")), by_key.get((c, "checkpoint", "perplexity")),
              by_key.get((c, "checkpoint-vs-base", "loss_delta"))) for c in sorted({r["category"] for r in base})]
    expected = {(c, m, k) for c in texts for m in ("base", "checkpoint") for k in ("loss", "perplexity")}
    missing = sorted(f"{c}/{m}/{k}" for c, m, k in expected
                     if not math.isfinite(by_key.get((c, m, k), float("nan"))))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "eval_table": md_table(["category", "base ppl", "checkpoint ppl", "loss Δ (>0: forgot)"], table),
            "overall_loss_delta": float(by_key.get(("__overall__", "checkpoint-vs-base", "loss_delta"), float("nan"))),
            "checkpoint": str(checkpoint),
            "downstream_tasks": md_table(["model", "task", "metric", "value", "items"],
                                         [(r["model"], r["task"], r["metric"], r["value"], r["n_items"]) for r in tasks]),
            "forgetting": dg.MetadataValue.md(forgetting["text"] + "".join(
                f"\n- {line}" for line in forgetting["collapsed"] + forgetting["forgot"])),
        },
        check_results=[dg.AssetCheckResult(asset_key=EVAL_KEY, check_name="row_for_every_category_and_model",
                                           passed=not missing, metadata={"missing": ", ".join(missing) or "none"})],
    )
