from dataclasses import fields
from pathlib import Path

import dagster as dg
import yaml

from assets.checks.thresholds import check_thresholds
from assets.deduped_checks import DEDUP_CHECK_SPECS, dedup_check_results
from assets.metadata import compute_line, counts_table, readable
from assets.partitions import category_partitions
from curation.compute import ParquetFiles
from curation.config_keys import refuse_unknown_keys
from curation.dedup.config import DedupConfig
from curation.dedup.stage import dedup_partition
from curation.lake import stage_writers
from resources.compute import ComputeResource
from resources.configs import PipelineConfigs, config_version
from resources.lake import LakeResource
from resources.models import EmbedderResource


def dedup_config(path: Path, category: str) -> DedupConfig:
    """DedupConfig from ``defaults`` then ``categories.<category>`` of the YAML file at ``path``."""
    raw = yaml.safe_load(path.read_text()) or {}
    values = {**(raw.get("defaults") or {}), **((raw.get("categories") or {}).get(category) or {})}
    refuse_unknown_keys(values, (f.name for f in fields(DedupConfig)), str(path), "dedup settings")
    return DedupConfig(**values)


@dg.asset(
    key=["corpus", "deduped"],
    deps=[dg.AssetKey(["corpus", "raw"])],
    partitions_def=category_partitions,
    group_name="dedup",
    kinds={"parquet", "duckdb"},
    code_version=config_version("dedup.yaml"),  # editing dedup.yaml marks this and downstream stale
    check_specs=DEDUP_CHECK_SPECS,
    description="Exact + MinHash/LSH near-duplicate (+ optional semantic) removal against every document kept "
    "before, in every category, then repeated paragraphs (boilerplate) cut across documents; each removal or "
    "edit records which document it duplicates.",
)
def deduped_corpus(
    context: dg.AssetExecutionContext, lake: LakeResource, embedder: EmbedderResource, configs: PipelineConfigs,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    category = context.partition_key
    config = dedup_config(configs.path("dedup.yaml"), category)
    data = lake.lake
    settings = compute.settings()
    with stage_writers(data, "deduped", category, data.read_schema("raw", category)) as (out, drops_out), \
            compute.open() as engine:
        stats = dedup_partition(ParquetFiles.of(data.files("raw", category)), category, data, config, out, drops_out,
                                embedder=embedder.spec() if config.semantic else None, engine=engine,
                                band_partitions=settings.band_partitions)
        stats["compute"] = engine.describe()
    lake.catalog.record_stage_stats("deduped", category, stats["docs_in"], stats["docs_out"], stats, context.run_id)
    return dg.MaterializeResult(
        metadata=readable({
            "dagster/row_count": stats["docs_out"],
            "docs_in": stats["docs_in"],
            "removed": stats["docs_in"] - stats["docs_out"],
            "removed_within_category": stats["dropped_within_category"],
            "removed_as_cross_category_duplicates": stats["dropped_cross_category"],
            "drop_rate": 1 - stats["docs_out"] / stats["docs_in"] if stats["docs_in"] else 0.0,
            "drops_by_reason": counts_table(stats["drops_by_reason"], total=stats["docs_in"]),
            "removed_pairs_sample": dg.MetadataValue.md(stats["sample_pairs_markdown"]),
            "lsh": dg.MetadataValue.json(stats["lsh"]),
            "candidate_pairs": stats["candidate_pairs"],
            "verified_pairs": stats["verified_pairs"],
            "param_version": config.param_version,
            "semantic": config.semantic,
            "seconds": stats["timings_s"]["total"],
            "mb_per_s": stats["mb_per_s"] or 0.0,
            "index_docs_after": stats["index_docs_after"],
            "docs_hashed_this_run": stats["docs_signed"],
            "docs_signatures_reused": stats["docs_from_cache"],
            "compute": compute_line(stats["compute"]),
            # multi-granularity: repeated paragraphs cut across documents and categories (paragraphs.py)
            "paragraphs_cut": stats["paragraph"].get("paragraphs_removed", 0),
            "paragraphs_cut_vs_earlier_partitions": stats["paragraph"].get("paragraphs_removed_vs_index", 0),
            "docs_edited_by_paragraph_dedup": stats["paragraph"].get("docs_edited", 0),
            "semantic_duplicates_of_earlier_partitions": (stats.get("semantic") or {}).get("duplicates_vs_index", 0),
        }),
        check_results=dedup_check_results(data, category, stats, check_thresholds(configs)),
    )
