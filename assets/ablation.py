"""The curated-vs-raw data ablation as an asset: did curation buy a better model per training token?"""

import math

import dagster as dg

from assets.checks.results import verdict
from assets.metadata import md_table
from curation.evaluation.ablation import independence_violations, load_ablation_config, run_ablation
from resources.configs import PipelineConfigs
from resources.lake import LakeResource

ABLATION_KEY = dg.AssetKey(["model", "ablation"])


def _stage_deps(path) -> list[dg.AssetKey]:
    cfg = load_ablation_config(path)
    return [dg.AssetKey(["corpus", stage]) for stage in sorted({s for v in cfg.variants for s in v.stages})]


@dg.asset(
    pool="gpu",  # GPU work: one step at a time (dagster_project/automation.py)
    key=ABLATION_KEY,
    deps=_stage_deps(PipelineConfigs().path("ablation.yaml")),
    group_name="ablation",
    kinds={"pytorch", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec("eval_sets_independent", asset=ABLATION_KEY, blocking=True,
                          description="No kept eval document is in a training pool by hash, the kept documents share at "
                          "most max_set_overlap of their 13-grams with the training streams, and no set lost more "
                          "than max_contaminated_share of its documents to overlap (else its source is not "
                          "independent of the training data)."),
        dg.AssetCheckSpec("enough_to_judge", asset=ABLATION_KEY,
                          description="Every eval set kept at least min_eval_tokens tokens and every verdict rests on "
                          ">= 2 seeds; otherwise the verdict is too thin to act on (warn)."),
    ],
    description="DCLM-style ablation (configs/ablation.yaml): identical small Llamas trained from scratch on each "
    "variant's stream (equal tokens per category), scored on independent text from installed packages; "
    "difference to the baseline with its noise over seeds and eval documents, and a verdict.",
)
def data_ablation(context: dg.AssetExecutionContext, lake: LakeResource, configs: PipelineConfigs) -> dg.MaterializeResult:
    data = lake.lake
    cfg = load_ablation_config(configs.path("ablation.yaml"))
    report = run_ablation(data, cfg, data.ablation_dir(), user_eval_dir=data.home / "evalsets",
                          log=context.log.info)
    with lake.catalog.connect() as con:
        con.executemany(
            "INSERT INTO eval_table (run_id, model, metric, category, value, n_docs, n_tokens) VALUES (?,?,?,?,?,?,?)",
            [[context.run_id, f"ablation:{t['variant']}", "loss", t["eval_set"], t["loss"], t["n_docs"], t["n_tokens"]]
             for t in report["table"]])
    for v in report["verdicts"]:
        context.log.info(v["verdict"])
    ind = report["independence"]
    thin = [f"{t['eval_set']}/{t['variant']}: {t['n_tokens']} tokens < {cfg.min_eval_tokens}"
            for t in report["table"] if t["n_tokens"] < cfg.min_eval_tokens]
    metadata = {
        "verdicts": dg.MetadataValue.md("\n".join(f"- {v['verdict']}" for v in report["verdicts"]) or "none"),
        "loss_by_eval_set_and_variant": md_table(
            ["eval set", "variant", "loss (nats/token)", "perplexity", "per-seed loss", "docs", "tokens"],
            [(t["eval_set"], t["variant"], t["loss"], t["perplexity"], ", ".join(f"{x:.3f}" for x in t["per_seed_loss"]),
              t["n_docs"], t["n_tokens"]) for t in report["table"]]),
        "differences": md_table(
            ["variant", "eval set", "Δ loss vs baseline", "noise", "per-seed Δ", "outcome"],
            [(v["variant"], v["eval_set"], v["loss_diff"], v["noise"], ", ".join(f"{x:+.3f}" for x in v["per_seed_diff"]),
              v["outcome"]) for v in report["verdicts"]]),
        "independence": md_table(
            ["eval set", "docs", "kept", "hash hits", f"dropped (> {cfg.max_doc_overlap} of {cfg.ngram}-grams shared)",
             f"trimmed to a set overlap <= {cfg.max_set_overlap}", "kept overlap", "sources", "skipped"],
            [(n, i["docs"], i["kept"], i["hash_hits"], i["dropped_overlap"], i["trimmed_for_set"],
              round(i["kept_overlap"], 4), ", ".join(i["sources"]), "; ".join(i["skipped_sources"]) or "none")
             for n, i in ind.items()]),
        "runs": md_table(["variant", "seed", "train tokens", "steps", "tokens seen", "final train loss", "wall s"],
                         [(r["variant"], r["seed"], r["train_tokens"], r["steps"], r["tokens_seen"], r["final_train_loss"],
                           r["wall_s"]) for r in report["runs"]]),
        "tokens_per_category": md_table(["category", "tokens (every variant)"], sorted(report["tokens_per_category"].items())),
        "wall_s": float(report["wall_s"]),
        "eval_problems": "\n".join(report["eval_problems"]) or "none",
    }
    # numbers Dagster plots over runs: one per variant x eval set difference
    for v in report["verdicts"]:
        if math.isfinite(v["loss_diff"]):
            metadata[f"loss_diff/{v['variant']}/{v['eval_set']}"] = float(round(v["loss_diff"], 4))
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            verdict(ABLATION_KEY, "eval_sets_independent", independence_violations(ind, cfg),
                    {"max_set_overlap": cfg.max_set_overlap, "max_contaminated_share": cfg.max_contaminated_share,
                     "ngram": cfg.ngram}),
            verdict(ABLATION_KEY, "enough_to_judge", thin, {"seeds": len(cfg.seeds)},
                    severity=dg.AssetCheckSeverity.WARN),
        ],
    )
