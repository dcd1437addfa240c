import dagster as dg

from assets.metadata import counts_table, md_table, readable
from curation.lake import stage_writers
from curation.rewrite import GenerationCache, load_rewrite_config, output_schema, rewrite_partition
from assets.rewritten_checks import REWRITTEN_CHECK_SPECS, rewritten_check_results
from assets.partitions import category_partitions
from resources.configs import REPO, REPO_CONFIGS, PipelineConfigs
from resources.lake import LakeResource
from resources.models import LLMResource


def rewrite_code_version() -> str:
    """Hash of rewrite.yaml and the prompt template of every style it enables (the text, not the path)."""
    config = load_rewrite_config(REPO.path("rewrite.yaml"))
    templates = [str((config.prompts_dir / f"{style}.yaml").relative_to(REPO_CONFIGS)) for style in config.styles]
    return REPO.version("rewrite.yaml", *templates)


@dg.asset(
    key=["corpus", "rewritten"],
    deps=[dg.AssetKey(["corpus", "scored"])],
    partitions_def=category_partitions,
    group_name="rewriting",
    kinds={"parquet", "pytorch"},
    code_version=rewrite_code_version(),
    check_specs=REWRITTEN_CHECK_SPECS,
    description="Originals plus LLM rewrites (WRAP wrap_medium, Nemotron-CC diverse_qa_pairs) of selected documents, "
    "validated, retried, cached by (model, template, input); synthetic documents carry parent_id and style.",
)
def rewritten_corpus(context: dg.AssetExecutionContext, lake: LakeResource, llm: LLMResource,
                     configs: PipelineConfigs) -> dg.MaterializeResult:
    category = context.partition_key
    data = lake.lake
    config = load_rewrite_config(configs.path("rewrite.yaml"))
    backend = llm.make_backend()
    schema = output_schema(data.read_schema("scored", category))
    with stage_writers(data, "rewritten", category, schema) as (out, drops_out), GenerationCache.for_lake(data) as cache:
        stats = rewrite_partition(data.iter_batches("scored", category), category, backend, config, cache, out,
                                  drops_out)
    lake.catalog.record_stage_stats("rewritten", category, stats["docs_in"], stats["docs_out"], stats, context.run_id)
    samples = [(r["style"], r["parent_id"], r["text"][:160]) for r in _synthetic_samples(data, category)]
    return dg.MaterializeResult(
        metadata=readable({
            "dagster/row_count": stats["docs_out"],
            "synthetic_docs": stats["synthetic_docs"],
            "synthetic_by_style": counts_table(stats["synthetic_by_style"], key="style"),
            "docs_selected": stats["docs_selected"],
            "not_selected_by_reason": counts_table(stats["skipped_by_reason"]),
            "validation_failures": counts_table(stats["validation_failures_by_reason"]),
            "drops_by_reason": counts_table(stats["drops_by_reason"]),
            "cache_hits": stats["cache_hits"],
            "generated": stats["generated"],
            "new_tokens_per_s": float(stats["new_tokens_per_s"] or 0.0),
            "backend": stats["backend"],
            "model": stats["model"],
            "samples": md_table(["style", "parent", "text"], samples),
            "seconds": stats["wall_s"],
        }),
        check_results=rewritten_check_results(data, category, stats),
    )


def _synthetic_samples(data, category: str, n: int = 3) -> list[dict]:
    rows = []
    for batch in data.iter_batches("rewritten", category, columns=["style", "parent_id", "text"]):
        rows += [r for r in batch.to_pylist() if r["style"] is not None]
        if len(rows) >= n:
            break
    return rows[:n]
