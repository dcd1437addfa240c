"""model/eval_table[stage]: held-out perplexity per slice before and after the stage, and vs the base model."""

import math

import dagster as dg

from assets.metadata import md_table
from assets.mixture import EVAL_KEY, MIXED_KEY, mixture_dir
from assets.partitions import stage_partitions
from assets.training import CHECKPOINT_KEY, latest_stage_checkpoint, start_checkpoint
from curation.mixture.curriculum import load_curriculum
from curation.mixture.stage import read_heldout_texts, read_manifest
from curation.training.checkpoint import checkpoint_dir
from resources.configs import PipelineConfigs
from resources.lake import LakeResource
from resources.models import LLMResource

# CPU demo budget per slice and model; raise on a GPU
EVAL_BUDGET = {"max_tokens_per_category": 512, "seq_len": 128}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


@dg.asset(
    pool="gpu",  # GPU work: one step at a time (dagster_project/automation.py)
    key=EVAL_KEY,
    deps=[CHECKPOINT_KEY, MIXED_KEY],
    partitions_def=stage_partitions,
    group_name="evaluation",
    kinds={"duckdb"},
    check_specs=[dg.AssetCheckSpec("row_for_every_category_and_model", asset=EVAL_KEY,
                                   description="A finite loss and perplexity for every held-out slice, for the base "
                                   "model, the model the stage started from and the stage's checkpoint.")],
    description="Held-out perplexity per slice of the stage: base model, the model the stage started from (the "
    "previous stage's checkpoint) and the stage's checkpoint; Δp feeds the next stage's mixture/weights (seed 002), "
    "loss vs base is the forgetting signal. DuckDB table eval_table, one row per model x stage x metric x slice.",
)
def eval_table(context: dg.AssetExecutionContext, lake: LakeResource, llm: LLMResource,
               configs: PipelineConfigs) -> dg.MaterializeResult:
    from curation.evaluation.perplexity import forgetting_rows, heldout_perplexity

    data, stage_name = lake.lake, context.partition_key
    curriculum = load_curriculum(configs.path("curriculum.yaml"))
    mixed = mixture_dir(data, stage_name)
    texts = read_heldout_texts(mixed)
    eod = read_manifest(mixed)["stats"]["eod_token_id"]
    trained = latest_stage_checkpoint(data, stage_name)
    if trained is None:
        raise FileNotFoundError(f"no checkpoint for stage {stage_name}: materialize model/checkpoint[{stage_name}]")
    start = start_checkpoint(data, curriculum, stage_name)
    budget = {**EVAL_BUDGET, "eod": eod}
    rows = heldout_perplexity(llm.model_dir(), texts, model_name="base", **budget)
    base = rows
    if start is not None:
        started = heldout_perplexity(start, texts, model_name="start", **budget)
        rows = rows + started
    after = heldout_perplexity(checkpoint_dir(trained), texts, model_name="checkpoint", **budget)
    rows = rows + after + forgetting_rows(base, after, model="checkpoint-vs-base")
    if start is not None:
        rows += forgetting_rows(started, after, model="checkpoint-vs-start")
    with lake.catalog.connect() as con:
        con.executemany(
            "INSERT INTO eval_table (run_id, stage, model, metric, category, value, n_docs, n_tokens, n_items) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [[context.run_id, stage_name, r["model"], r["metric"], r["category"], r["value"], r["n_docs"],
              r["n_tokens"], r["n_docs"]] for r in rows])
    value = {(r["category"], r["model"], r["metric"]): r["value"] for r in rows}
    support = {r["category"]: (r["n_docs"], r["n_tokens"]) for r in after}
    before = "start" if start is not None else "base"
    shown = []
    for c in sorted(support):
        p0, p1 = value.get((c, before, "perplexity")), value.get((c, "checkpoint", "perplexity"))
        shown.append((c, _fmt(value.get((c, "base", "perplexity"))), _fmt(value.get((c, "start", "perplexity"))),
                      _fmt(p1), _fmt(p1 - p0 if p0 is not None and p1 is not None else None),
                      _fmt(value.get((c, "checkpoint-vs-base", "loss_delta"))), *support[c]))
    models = ["base", "checkpoint"] + (["start"] if start is not None else [])
    missing = sorted(f"{c}/{m}/{k}" for c in texts for m in models for k in ("loss", "perplexity")
                     if not math.isfinite(value.get((c, m, k), float("nan"))))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(shown),
            "eval_table": md_table(["slice", "base ppl", "start ppl", "checkpoint ppl", "Δp (stage)",
                                    "loss Δ vs base (>0: forgot)", "held-out docs", "held-out tokens"], shown),
            "duckdb_rows_written": len(rows),
            "overall_loss_delta_vs_base": round(value.get(("__overall__", "checkpoint-vs-base", "loss_delta"),
                                                          float("nan")), 4),
            "checkpoint": str(checkpoint_dir(trained)),
            "started_from": str(start) if start else "base model",
            "budget": f"{EVAL_BUDGET['max_tokens_per_category']} tokens per slice and model (CPU demo)",
        },
        check_results=[dg.AssetCheckResult(
            asset_key=EVAL_KEY, check_name="row_for_every_category_and_model", passed=not missing,
            description=f"missing or non-finite: {', '.join(missing)}" if missing else None,
            metadata={"missing": ", ".join(missing) or "none", "slices": len(texts)})],
    )
