import dagster as dg

from assets.checks.thresholds import check_thresholds
from assets.metadata import compute_line, counts_table, md_table
from assets.partitions import category_partitions
from assets.rewritten_checks import REWRITTEN_CHECK_SPECS, rewritten_check_results
from curation.lake import stage_writers
from curation.rewrite import GenerationCache, load_rewrite_config, output_schema, rewrite_partition
from resources.compute import ComputeResource
from resources.configs import REPO_CONFIGS, PipelineConfigs
from resources.lake import LakeResource
from resources.models import LLMResource


@dg.asset(
    pool="gpu",  # GPU work: one step at a time (dagster_project/automation.py)
    key=["corpus", "rewritten"],
    deps=[dg.AssetKey(["corpus", "scored"])],
    partitions_def=category_partitions,
    group_name="rewriting",
    kinds={"parquet", "pytorch"},
    # hashes every knob of rewrite.yaml and the text of every routed prompt template
    code_version=load_rewrite_config(REPO_CONFIGS / "rewrite.yaml").version,
    check_specs=REWRITTEN_CHECK_SPECS,
    description="Originals plus LLM rewrites routed by document kind (prose / code / math) and quality bucket: "
    "Nemotron-CC's five styles, SwallowCode / SwallowMath, MAGA genre x audience, long documents chunk by chunk "
    "(K2). Every generation is validated (language, length, repetition, echo, refusal, faithfulness) and retried; "
    "synthetic documents carry parent_id, style, mixture_slice and provenance.",
)
def rewritten_corpus(context: dg.AssetExecutionContext, lake: LakeResource, llm: LLMResource,
                     configs: PipelineConfigs, compute: ComputeResource) -> dg.MaterializeResult:
    category = context.partition_key
    data = lake.lake
    config = load_rewrite_config(configs.path("rewrite.yaml"))
    schema = output_schema(data.read_schema("scored", category))
    with stage_writers(data, "rewritten", category, schema) as (out, drops_out), \
            GenerationCache.for_lake(data) as cache, compute.open() as engine, llm.backend_on(engine) as backend:
        stats = rewrite_partition(data.iter_batches("scored", category), category, backend, config, cache, out,
                                  drops_out)
        compute_used = engine.describe()
    lake.catalog.record_stage_stats("rewritten", category, stats["docs_in"], stats["docs_out"], stats, context.run_id)
    samples = [(r["style"], r["parent_id"], r["text"][:160]) for r in _synthetic_samples(data, category)]
    yields = [(r["style"], r["attempted"], r["kept"], r["yield"], r["refused_before_generation"],
               ", ".join(f"{k} {v}" for k, v in r["rejected_generations"].items()) or "-")
              for r in stats["yield_by_style"]]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": stats["docs_out"],
            "synthetic_docs": stats["synthetic_docs"],
            "synthetic_by_slice": counts_table(stats["synthetic_by_slice"], key="mixture_slice"),
            "yield_by_style": md_table(["style", "jobs", "kept", "yield", "refused before generation",
                                        "rejected generations by reason"], yields),
            "docs_selected": stats["docs_selected"],
            "kinds_selected": counts_table(stats["kinds_selected"], key="document kind"),
            "not_selected_by_reason": counts_table(stats["skipped_by_reason"]),
            "validation_failures": counts_table(stats["validation_failures_by_reason"]),
            "drops_by_reason": counts_table(stats["drops_by_reason"]),
            "cache_hits": stats["cache_hits"],
            "generated": stats["generated"],
            "rounds": stats["rounds"],
            "new_tokens_per_s": float(stats["new_tokens_per_s"] or 0.0),
            "backend": stats["backend"],
            "compute": compute_line(compute_used),
            "model": stats["model"],
            "samples": md_table(["style", "parent", "text"], samples),
            "seconds": stats["wall_s"],
        },
        check_results=rewritten_check_results(data, category, stats, config, check_thresholds(configs)),
    )


def _synthetic_samples(data, category: str, n: int = 3) -> list[dict]:
    rows = []
    for batch in data.iter_batches("rewritten", category, columns=["style", "parent_id", "text"]):
        rows += [r for r in batch.to_pylist() if r["style"] is not None]
        if len(rows) >= n:
            break
    return rows[:n]
