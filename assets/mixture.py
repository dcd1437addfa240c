"""Per-stage mixture assets: the stage's slice weights (from the previous stage's eval) and the mixture.

The loop of the curriculum (weights[t] <- eval_table[t-1] <- checkpoint[t-1] <- mixed[t-1]) would be
a cycle in Dagster's asset graph, which Dagster refuses; the edge from eval_table[t-1] back to
weights[t] is therefore a read of the catalog at run time, recorded in the weights' metadata (eval
run id), and weights[t] fails with a clear message when eval_table[t-1] has not been materialized.
"""

import json
from pathlib import Path

import dagster as dg
import yaml

from assets.metadata import counts_table, md_table
from assets.mixture_checks import (
    MIXED_CHECK_SPECS,
    MIXED_KEY,
    eval_overlap_result,
    heldout_result,
    proportions_result,
    repeats_result,
)
from assets.partitions import stage_partitions
from curation.decontam.index import EvalIndex
from curation.decontam.sources import external_items
from curation.document import DROP_SCHEMA, SkipCounter
from curation.lake import Lake, PartitionWriter
from curation.mixture.curriculum import load_curriculum
from curation.mixture.loop import stage_weights
from curation.mixture.spec import load_mixture_spec
from curation.mixture.stage import build_mixture, read_manifest
from curation.mixture.verify import heldout_items
from curation.synthesis import STAGES as SYNTHESIS_STAGES
from resources.configs import REPO_CONFIGS, PipelineConfigs
from resources.lake import LakeResource
from resources.models import LLMResource

WEIGHTS_KEY = dg.AssetKey(["mixture", "weights"])
EVAL_KEY = dg.AssetKey(["model", "eval_table"])
# the source stages are part of the graph's shape, so they come from the repository's config
SOURCE_STAGES = tuple(yaml.safe_load((REPO_CONFIGS / "mixture.yaml").read_text()).get("sources") or ["rewritten"])


def source_key(stage: str) -> dg.AssetKey:
    """The asset that writes lake stage ``stage``: ``synthetic/<stage>`` for the synthesis outputs, else ``corpus/<stage>``."""
    return dg.AssetKey(["synthetic" if stage in SYNTHESIS_STAGES.values() else "corpus", stage])


def mixture_dir(lake: Lake, stage: str) -> Path:
    return lake.stage_dir("mixed", stage)


def weights_file(lake: Lake, stage: str) -> Path:
    return lake.stage_dir("mixture_weights", stage) / "weights.json"


def earlier_mixture_dirs(lake: Lake, curriculum, stage: str) -> list[Path]:
    names = curriculum.names
    return [mixture_dir(lake, s) for s in names[: names.index(stage)] if (mixture_dir(lake, s) / "heldout.parquet").is_file()]


def latest_eval_rows(lake: LakeResource, stage: str) -> tuple[str | None, list[dict]]:
    """(run id, rows) of the latest eval_table run for ``stage``."""
    rows = lake.catalog.query(
        "SELECT run_id, model, metric, category, value FROM eval_table WHERE stage = ? AND run_id = "
        "(SELECT run_id FROM eval_table WHERE stage = ? ORDER BY recorded_at DESC LIMIT 1)", [stage, stage])
    if not rows:
        return None, []
    return rows[0][0], [{"model": m, "metric": k, "category": c, "value": v} for _, m, k, c, v in rows]


def _bar(value: float, scale: float, width: int = 20) -> str:
    return "█" * max(0, round(width * value / scale)) if scale > 0 else ""


@dg.asset(
    key=WEIGHTS_KEY,
    partitions_def=stage_partitions,
    group_name="mixture",
    kinds={"json"},
    description="The stage's slice factors f_i: 1 everywhere for a fixed stage; for `reweight_from` stages seed "
    "002's PPL-change reweighting from the source stage's eval table (Δp, δ, f, within-group shares shown).",
)
def mixture_weights(context: dg.AssetExecutionContext, lake: LakeResource, configs: PipelineConfigs
                    ) -> dg.MaterializeResult:
    data, stage_name = lake.lake, context.partition_key
    curriculum = load_curriculum(configs.path("curriculum.yaml"))
    stage = curriculum.stage(stage_name)
    spec = load_mixture_spec(configs.path("mixture.yaml"))
    run_id, rows, manifest = None, [], None
    if stage.reweight is not None:
        run_id, rows = latest_eval_rows(lake, stage.reweight.source)
        source_dir = mixture_dir(data, stage.reweight.source)
        manifest = read_manifest(source_dir) if (source_dir / "mixture_manifest.json").is_file() else None
    result = stage_weights(stage, spec, rows, manifest)
    result["eval_run_id"] = run_id
    path = weights_file(data, stage_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=True), encoding="utf-8")
    metadata = {"mode": result["mode"], "weights_file": str(path)}
    if result["rows"]:
        table = [(r["slice"], r["group"], r["ppl_before"], r["ppl_after"], r["delta_p"], r["delta_norm"], r["w"],
                  r["f"], r["r_prev"], r["r_new"]) for r in result["rows"]]
        scale = max(max(r["r_prev"], r["r_new"]) for r in result["rows"])
        chart = "\n".join(f"{r['slice'][:28]:28s} before {_bar(r['r_prev'], scale):20s} {r['r_prev']:.3f}\n"
                          f"{'':28s} after  {_bar(r['r_new'], scale):20s} {r['r_new']:.3f}" for r in result["rows"])
        metadata.update(
            reweighting=md_table(["slice", "group", "ppl before", "ppl after", "Δp", "δ", "w", "f", "r before",
                                  "r after"], table),
            within_group_shares=dg.MetadataValue.md(f"```\n{chart}\n```"),
            source=f"model/eval_table[{result['source']}] run {run_id} ({len(rows)} rows; before = "
                   f"{result['before_model']})",
            alpha=result["alpha"],
            max_abs_delta_p=round(max(abs(r["delta_p"]) for r in result["rows"]), 4),
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=MIXED_KEY,
    partitions_def=stage_partitions,
    deps=[dg.AssetDep(source_key(s), partition_mapping=dg.AllPartitionMapping()) for s in SOURCE_STAGES]
    + [WEIGHTS_KEY],
    group_name="mixture",
    kinds={"parquet"},
    check_specs=MIXED_CHECK_SPECS,
    description="One curriculum stage's token mixture (configs/mixture.yaml + curriculum.yaml): group ratios over "
    "language / synthetic groups, slice weights x the stage's reweighting factors, held-out split, n-gram "
    "decontamination, PPL order or random, Megatron .bin/.idx + blend list.",
)
def mixed_corpus(context: dg.AssetExecutionContext, lake: LakeResource, llm: LLMResource,
                 configs: PipelineConfigs) -> dg.MaterializeResult:
    from transformers import AutoTokenizer

    data, stage_name = lake.lake, context.partition_key
    spec = load_mixture_spec(configs.path("mixture.yaml"))
    curriculum = load_curriculum(configs.path("curriculum.yaml"))
    stage = curriculum.stage(stage_name)
    factors = json.loads(weights_file(data, stage_name).read_text())["factors"]
    tokenizer = AutoTokenizer.from_pretrained(llm.model_dir(), local_files_only=True)
    cfg = spec.decontamination
    skipped = SkipCounter()
    items = external_items(cfg.packaged, data.home / "evalsets" if cfg.evalsets else None, skipped)
    index, cached = EvalIndex.cached(items, cfg.n, data.state_dir("decontam"))
    sources = {f"{s}/{c}": data.iter_batches(s, c) for s in spec.sources for c in data.stage_categories(s)}
    out = mixture_dir(data, stage_name)
    with PartitionWriter(data.drops_dir("mixed", stage_name), DROP_SCHEMA) as drops_out:
        stats = build_mixture(sources, tokenizer, spec, out, drops_writer=drops_out, stage=stage, eval_index=index,
                              slice_factors=factors)
    lake.catalog.record_stage_stats("mixed", stage_name, stats["docs_in"], stats["docs_out"], stats, context.run_id)
    check_index, _ = EvalIndex.cached(items + (heldout_items(out) if cfg.include_heldout else []), cfg.n,
                                      data.state_dir("decontam"))
    cats = stats["categories"]
    rows = [(n, c["group"], c["weight"], c["factor"], c["target_share"], c["actual_share"], c["actual_tokens"],
             c["repeat_factor"], c.get("heldout_docs", 0)) for n, c in sorted(cats.items())]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": stats["docs_out"],
            "total_tokens": stats["total_tokens"],
            "stage": f"{stage_name}: ratios {stage.ratios or 'slice weights only'}, ordering {stage.ordering}",
            "slices": md_table(["slice", "group", "weight", "f", "target", "actual", "tokens", "repeat",
                                "held-out docs"], rows),
            "drops": counts_table(stats["drops_by_reason"], total=stats["docs_in"]),
            "decontamination": f"{'on' if cfg.enabled else 'OFF'}: {index.num_items} eval items "
                               f"({index.skipped_short} shorter than {cfg.n} tokens), index "
                               f"{index.nbytes / 1e6:.2f} MB{' (cached)' if cached else ''}; "
                               f"{stats['drops_by_reason'].get('eval_contamination', 0)} benchmark and "
                               f"{stats['drops_by_reason'].get('heldout_contamination', 0)} held-out overlaps removed",
            "eval_sources_skipped": counts_table(skipped.counts) if skipped.total else "none",
            "missing": ", ".join(stats["missing_categories"]) or "none",
            "eod_token": f"{stats['eod_token']} (id {stats['eod_token_id']})",
            "blend_file": stats["blend_path"],
        },
        check_results=[
            proportions_result(out),
            heldout_result(out, earlier_mixture_dirs(data, curriculum, stage_name)),
            eval_overlap_result(out, tokenizer, stats["eod_token_id"], check_index, cfg.overlap_bound, cfg.enabled),
            repeats_result(stats, spec.max_repeat),
        ],
    )
