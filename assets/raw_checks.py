"""Blocking checks on ``corpus/raw``: a GX suite on the written partition + a bound on lost input."""

import dagster as dg

from assets.checks.documents import check_frame, document_suite, schema_check, schema_check_spec
from assets.checks.gx import run_suite
from assets.checks.results import cannot_judge, verdict
from assets.checks.thresholds import check_thresholds
from curation.document import DOC_SCHEMA
from curation.ingest import IngestResult
from curation.lake import Lake

RAW_KEY = dg.AssetKey(["corpus", "raw"])

RAW_CHECK_SPECS = [
    schema_check_spec(RAW_KEY),
    dg.AssetCheckSpec("gx_documents_valid", asset=RAW_KEY, blocking=True,
                      description="GX suite: ids non-null and unique, text non-empty, category = partition."),
    dg.AssetCheckSpec("skipped_ratio_bounded", asset=RAW_KEY, blocking=True,
                      description="Lost input stays under checks.yaml raw.max_skipped_ratio, judged in lost data, not "
                      "lost files: documents lost over documents seen, and input bytes that yielded nothing "
                      "(unreadable files, damaged stretches of compressed streams) over all input bytes. A truncated "
                      "file fails it: what followed the cut cannot be counted."),
]


def lost_data_problems(result: IngestResult, bound: float) -> list[str]:
    """Each way the partition lost more than ``bound`` of its input, with the numbers."""
    problems = []
    seen = result.docs_total + result.skipped_total
    if result.skipped_ratio > bound:
        problems.append(f"lost {result.skipped_total} of {seen} documents ({result.skipped_ratio:.3g} > {bound:g})")
    if result.lost_bytes_ratio > bound:
        problems.append(f"lost {result.lost_bytes} of {result.bytes_total} input bytes ({result.lost_bytes_ratio:.3g} "
                        f"> {bound:g}) in {', '.join(sorted(result.lost_bytes_by_reason))}")
    for loss in result.unbounded_losses:
        problems.append(f"{loss['file']} is truncated, loss not measurable: {loss['detail']}")
    return problems


def lost_data_check(result: IngestResult, thresholds: dict | None = None) -> dg.AssetCheckResult:
    bound = (thresholds or check_thresholds())["raw"]["max_skipped_ratio"]
    seen = result.docs_total + result.skipped_total
    metadata = {
        "lost_documents": result.skipped_total, "documents_seen": seen,
        "lost_documents_ratio": round(result.skipped_ratio, 4),
        "lost_bytes": result.lost_bytes, "input_bytes": result.bytes_total,
        "lost_bytes_ratio": round(result.lost_bytes_ratio, 4),
        "truncated_files": len(result.unbounded_losses), "bound": bound,
    }
    if seen == 0 and result.bytes_total == 0:
        return cannot_judge(RAW_KEY, "skipped_ratio_bounded", f"no shard in landing/{result.category}", metadata)
    summary = (f"lost {result.skipped_total} of {seen} documents ({result.skipped_ratio:.3g}) and {result.lost_bytes} "
               f"of {result.bytes_total} input bytes ({result.lost_bytes_ratio:.3g}); bound {bound:g}")
    return verdict(RAW_KEY, "skipped_ratio_bounded", lost_data_problems(result, bound), {**metadata, "summary": summary})


def raw_check_results(lake: Lake, category: str, result: IngestResult,
                      thresholds: dict | None = None) -> list[dg.AssetCheckResult]:
    return [
        schema_check(lake, "raw", category, RAW_KEY, DOC_SCHEMA),
        run_suite("gx_documents_valid", RAW_KEY, check_frame(lake, "raw", category), document_suite(category)),
        lost_data_check(result, thresholds),
    ]
