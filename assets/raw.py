import dagster as dg

from assets.checks.thresholds import check_thresholds
from assets.metadata import counts_table, md_table, readable
from assets.partitions import category_partitions
from assets.raw_checks import RAW_CHECK_SPECS, raw_check_results
from curation.ingest import ingest_category
from resources.compute import ComputeResource
from resources.configs import PipelineConfigs
from resources.lake import LakeResource


class RawConfig(dg.Config):
    # A symlink in landing/<category> that points outside landing/ is reported and not read unless
    # this is set (a link to /etc or another user's data should not enter a corpus by accident).
    follow_links_outside_landing: bool = False


@dg.asset(
    key=["corpus", "raw"],
    partitions_def=category_partitions,
    group_name="ingest",
    kinds={"parquet", "duckdb"},
    check_specs=RAW_CHECK_SPECS,
    description="Landing shards of one category, normalised to the document schema; what cannot be read is "
    "skipped with file:line and reason and counted as lost documents (or bytes); ignored files are listed.",
)
def raw_corpus(context: dg.AssetExecutionContext, config: RawConfig, lake: LakeResource,
               configs: PipelineConfigs, compute: ComputeResource) -> dg.MaterializeResult:
    category = context.partition_key
    with compute.open() as engine:  # shards parsed as engine tasks (Ray tasks with engine ray)
        result = ingest_category(lake.lake, category, follow_links_outside_landing=config.follow_links_outside_landing,
                                 engine=engine)
    context.log.info(
        f"{category}: {result.shards_new} new, {result.shards_changed} changed, {result.shards_unchanged} unchanged, "
        f"{result.shards_removed} removed shards; {result.docs_ingested} docs read, {result.skipped_total} documents "
        f"and {result.lost_bytes} input bytes lost, {len(result.ignored_files)} files ignored"
    )
    for path, reason in result.ignored_files:
        context.log.warning(f"landing/{category}/{path} ignored: {reason}")
    for loss in result.unbounded_losses:
        context.log.warning(f"landing/{category}/{loss['file']}: {loss['detail']}")
    if result.stale_leftovers_removed:
        context.log.info(f"removed {len(result.stale_leftovers_removed)} leftovers of an interrupted run")
    stats = {
        "docs": result.docs_total,
        "chars": result.chars_total,
        "shards": result.shards_total,
        "shards_new": result.shards_new,
        "shards_changed": result.shards_changed,
        "shards_removed": result.shards_removed,
        "skipped_by_reason": result.skipped_by_reason,
        "lost_bytes_by_reason": result.lost_bytes_by_reason,
        "truncated_files": [loss["file"] for loss in result.unbounded_losses],
        "ignored_files": result.ignored_files,
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
            "shards_read_this_run": result.shards_new + result.shards_changed - result.shards_resumed,
            "shards_resumed": result.shards_resumed,
            "docs_read_this_run": result.docs_ingested,
            "lost_documents": result.skipped_total,
            "lost_documents_ratio": round(result.skipped_ratio, 4),
            "lost_bytes": result.lost_bytes,
            "lost_bytes_ratio": round(result.lost_bytes_ratio, 4),
            "skipped_by_reason": counts_table(result.skipped_by_reason, total=result.docs_total + result.skipped_total),
            "lost_bytes_by_reason": counts_table(result.lost_bytes_by_reason, total=result.bytes_total),
            "truncated_files": _table(["file", "what happened"],
                                      [(u["file"], u["detail"]) for u in result.unbounded_losses], "no truncated file"),
            "skipped_examples": _table(
                ["reason", "file", "line", "documents", "bytes", "detail"],
                [(e["reason"], e["file"], "" if e["line"] is None else e["line"], e.get("docs", 1), e.get("bytes", 0),
                  (e["detail"] or "")[:120]) for e in result.skip_examples], "nothing skipped in this run"),
            "ignored_files": _table(["file", "reason"], result.ignored_files, "no file ignored"),
            "ignored_files_count": len(result.ignored_files),
            "stale_leftovers_removed": len(result.stale_leftovers_removed),
            "ingest_mb_per_s": round(mb_s, 3),
            "seconds": round(result.seconds, 3),
        }),
        check_results=raw_check_results(lake.lake, category, result, check_thresholds(configs)),
    )


def _table(headers: list[str], rows: list, empty: str) -> dg.MetadataValue:
    return md_table(headers, rows) if rows else dg.MetadataValue.md(f"_{empty}_")
