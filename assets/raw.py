import dagster as dg

from assets.metadata import counts_table, md_table, readable
from curation.ingest import ingest_category
from assets.raw_checks import RAW_CHECK_SPECS, raw_check_results
from assets.partitions import category_partitions
from resources.lake import LakeResource


@dg.asset(
    key=["corpus", "raw"],
    partitions_def=category_partitions,
    group_name="ingest",
    kinds={"parquet", "duckdb"},
    check_specs=RAW_CHECK_SPECS,
    description="Landing shards of one category, normalised to the document schema; bad lines skipped and counted.",
)
def raw_corpus(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    category = context.partition_key
    result = ingest_category(lake.lake, category)
    context.log.info(
        f"{category}: {result.shards_new} new, {result.shards_changed} changed, {result.shards_unchanged} unchanged, "
        f"{result.shards_removed} removed shards; {result.docs_ingested} docs read, {result.skipped_total} skipped"
    )
    stats = {
        "docs": result.docs_total,
        "chars": result.chars_total,
        "shards": result.shards_total,
        "shards_new": result.shards_new,
        "shards_changed": result.shards_changed,
        "shards_removed": result.shards_removed,
        "skipped_by_reason": result.skipped_by_reason,
        "seconds": result.seconds,
        "bytes_read": result.bytes_read,
    }
    lake.catalog.record_stage_stats("raw", category, result.docs_ingested, result.docs_total, stats, context.run_id)
    mb_s = result.bytes_read / 1e6 / result.seconds if result.seconds else 0.0
    return dg.MaterializeResult(
        metadata=readable({
            "dagster/row_count": result.docs_total,
            "characters": result.chars_total,
            "shards": result.shards_total,
            "shards_read_this_run": result.shards_new + result.shards_changed,
            "docs_read_this_run": result.docs_ingested,
            "skipped_lines": result.skipped_total,
            "skipped_ratio": result.skipped_ratio,
            "skipped_by_reason": counts_table(result.skipped_by_reason),
            "skipped_examples": md_table(
                ["reason", "file", "line", "detail"],
                [(e["reason"], e["file"], e["line"], e["detail"][:80]) for e in result.skip_examples],
            ),
            "ingest_mb_per_s": mb_s,
            "seconds": result.seconds,
        }),
        check_results=raw_check_results(lake.lake, category, result),
    )
