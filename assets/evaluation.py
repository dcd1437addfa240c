"""model/eval_table[stage]: held-out perplexity per slice and downstream task scores for the base model,
the model the stage started from and the stage's checkpoint, with forgetting flagged per slice and task."""

import math

import dagster as dg

from assets.evaluation_checks import FORGETTING_CHECK, ROWS_CHECK, forgetting_result, rows_result
from assets.metadata import md_table, readable
from assets.mixture import EVAL_KEY, MIXED_KEY, mixture_dir
from assets.partitions import stage_partitions
from assets.training import CHECKPOINT_KEY, latest_stage_checkpoint, start_checkpoint
from curation.mixture.curriculum import load_curriculum
from curation.mixture.stage import read_heldout_texts, read_manifest
from curation.training.checkpoint import checkpoint_dir
from resources.configs import PipelineConfigs, config_version
from resources.lake import LakeResource
from resources.models import LLMResource


def _fmt(value: float | None, digits: int = 4) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def _perplexity_table(rows: list[dict], started: bool) -> tuple[list[tuple], dict]:
    value = {(r["category"], r["model"], r["metric"]): r["value"] for r in rows}
    support = {r["category"]: (r["n_docs"], r["n_tokens"]) for r in rows if r["model"] == "checkpoint"}
    before = "start" if started else "base"
    shown = []
    for c in sorted(support):
        p0, p1 = value.get((c, before, "perplexity")), value.get((c, "checkpoint", "perplexity"))
        shown.append((c, _fmt(value.get((c, "base", "perplexity"))), _fmt(value.get((c, "start", "perplexity"))),
                      _fmt(p1), _fmt(p1 - p0 if p0 is not None and p1 is not None else None),
                      _fmt(value.get((c, "checkpoint-vs-base", "loss_delta"))), *support[c]))
    return shown, value


def _task_table(changes: list[dict], task_rows: list[dict]) -> list[tuple]:
    """One line per task x metric: base, start, checkpoint, change vs base with its noise, items, status."""
    by = {(r["model"], r["task"], r["metric"]): r for r in task_rows}
    status = {(c["category"], c["metric"]): c for c in changes if c["stage"] == "checkpoint"}
    out = []
    for (model, task, metric), r in sorted(by.items()):
        if model != "checkpoint":
            continue
        c = status.get((task, metric), {})
        out.append((task, metric, _fmt(by.get(("base", task, metric), {}).get("value")),
                    _fmt(by.get(("start", task, metric), {}).get("value")), _fmt(r["value"]),
                    _fmt(c.get("change_vs_base")), _fmt(c.get("noise"), 2), r["n_items"], c.get("status", "–")))
    return out


@dg.asset(
    pool="gpu",  # GPU work: one step at a time (dagster_project/automation.py)
    key=EVAL_KEY,
    deps=[CHECKPOINT_KEY, MIXED_KEY],
    partitions_def=stage_partitions,
    group_name="evaluation",
    kinds={"duckdb"},
    code_version=config_version("evaluation.yaml", "tasks/*.yaml"),
    check_specs=[
        dg.AssetCheckSpec(ROWS_CHECK, asset=EVAL_KEY,
                          description="A finite loss and perplexity for every held-out slice and a score for every "
                          "configured task, for the base model, the model the stage started from and the checkpoint."),
        dg.AssetCheckSpec(FORGETTING_CHECK, asset=EVAL_KEY, blocking=True,
                          description="Per held-out slice and task, the checkpoint against the base model and the "
                          "previous stage: WARN when one got worse beyond configs/evaluation.yaml's bound and beyond "
                          "its sampling noise (seed 002's forgetting), ERROR when one collapsed."),
    ],
    description="Held-out perplexity per slice and downstream tasks (lm-eval, configs/tasks/: BIG-bench multiple "
    "choice and arithmetic, HumanEval pass@1 in a sandbox) for the base model, the model the stage started from (the "
    "previous stage's checkpoint) and the stage's checkpoint; forgetting per slice and task; Δp feeds the next "
    "stage's mixture/weights (seed 002). DuckDB table eval_table, one row per model x stage x metric x slice/task "
    "with the items it rests on.",
)
def eval_table(context: dg.AssetExecutionContext, lake: LakeResource, llm: LLMResource,
               configs: PipelineConfigs) -> dg.MaterializeResult:
    from curation.evaluation.forgetting import stage_changes
    from curation.evaluation.perplexity import forgetting_rows, heldout_perplexity
    from curation.evaluation.stage_config import load_stage_eval_config
    from curation.evaluation.tasks import cached_task_rows

    data, stage_name = lake.lake, context.partition_key
    curriculum = load_curriculum(configs.path("curriculum.yaml"))
    cfg = load_stage_eval_config(configs.path("evaluation.yaml"))
    mixed = mixture_dir(data, stage_name)
    texts = read_heldout_texts(mixed)
    trained = latest_stage_checkpoint(data, stage_name)
    if trained is None:
        raise FileNotFoundError(f"no checkpoint for stage {stage_name}: materialize model/checkpoint[{stage_name}]")
    start = start_checkpoint(data, curriculum, stage_name)
    models = {"base": llm.model_dir(), **({"start": start} if start is not None else {}),
              "checkpoint": checkpoint_dir(trained)}

    budget = {**cfg.heldout, "eod": read_manifest(mixed)["stats"]["eod_token_id"]}
    ppl = {name: heldout_perplexity(path, texts, model_name=name, **budget) for name, path in models.items()}
    rows = [r for name in models for r in ppl[name]] + forgetting_rows(ppl["base"], ppl["checkpoint"],
                                                                       model="checkpoint-vs-base")
    if start is not None:
        rows += forgetting_rows(ppl["start"], ppl["checkpoint"], model="checkpoint-vs-start")

    tasks, scored_fresh = [], []
    if cfg.downstream["tasks"]:
        for name, path in models.items():
            context.log.info(f"downstream tasks for {name} ({path})")
            got, cached = cached_task_rows(path, name, stage_name, cfg.downstream, data.task_scores_dir())
            tasks += got
            scored_fresh += [] if cached else [name]
    with lake.catalog.connect() as con:
        con.executemany(
            "INSERT INTO eval_table (run_id, stage, model, metric, category, value, n_docs, n_tokens, n_items) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [[context.run_id, stage_name, r["model"], r["metric"], r["category"], r["value"], r["n_docs"],
              r["n_tokens"], r.get("n_items", r["n_docs"])] for r in rows + tasks])

    # forgetting: every model scored on the same held-out texts and task items in this run
    judged = [{**r, "stage": r["model"]} for r in [*(r for name in models for r in ppl[name]), *tasks]]
    order = list(models)
    changes = stage_changes(judged, order, cfg.forgetting)
    shown, value = _perplexity_table(rows, start is not None)
    task_lines = _task_table(changes, tasks)
    metadata = {
        "dagster/row_count": len(rows) + len(tasks),
        "eval_table": md_table(["slice", "base ppl", "start ppl", "checkpoint ppl", "Δp (stage)",
                                "loss Δ vs base (>0: forgot)", "held-out docs", "held-out tokens"], shown),
        "downstream_tasks": md_table(["task", "metric", "base", "start", "checkpoint", "Δ vs base", "noise (1 se)",
                                      "items", "status"], task_lines),
        "overall_loss_delta_vs_base": value.get(("__overall__", "checkpoint-vs-base", "loss_delta"), float("nan")),
        **{f"task/{r['task']}/{r['metric']}": r["value"] for r in tasks if r["model"] == "checkpoint"},
        "duckdb_rows_written": f"{len(rows)} held-out + {len(tasks)} task rows",
        "models": md_table(["model", "path", "task scores"],
                           [(n, str(p), "scored now" if n in scored_fresh else "cached" if tasks else "off")
                            for n, p in models.items()]),
        "budget": f"{cfg.heldout['max_tokens_per_category']} tokens per held-out slice and model; tasks: "
                  + (", ".join(f"{t} ({cfg.downstream['limits'].get(t, cfg.downstream['limit'])} items)"
                               for t in cfg.downstream["tasks"]) or "off"),
    }
    return dg.MaterializeResult(
        metadata=readable(metadata),
        check_results=[rows_result(EVAL_KEY, texts, value, list(models), cfg.downstream["tasks"], tasks),
                       forgetting_result(EVAL_KEY, [c for c in changes if c["stage"] == "checkpoint"])],
    )
