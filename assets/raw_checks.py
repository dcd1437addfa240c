"""Blocking checks on ``corpus/raw``: a GX suite on the written partition + a stats bound."""

import dagster as dg

from curation.document import DOC_SCHEMA
from curation.ingest import IngestResult
from curation.lake import Lake
from assets.checks.documents import check_frame, document_suite, schema_check, schema_check_spec
from assets.checks.gx import run_suite
from assets.checks.thresholds import check_thresholds

RAW_KEY = dg.AssetKey(["corpus", "raw"])

RAW_CHECK_SPECS = [
    schema_check_spec(RAW_KEY),
    dg.AssetCheckSpec("gx_documents_valid", asset=RAW_KEY, blocking=True,
                      description="GX suite: ids non-null and unique, text non-empty, category = partition."),
    dg.AssetCheckSpec("skipped_ratio_bounded", asset=RAW_KEY, blocking=True,
                      description="Skipped input lines stay under checks.yaml raw.max_skipped_ratio."),
]


def raw_check_results(lake: Lake, category: str, result: IngestResult) -> list[dg.AssetCheckResult]:
    bound = check_thresholds()["raw"]["max_skipped_ratio"]
    return [
        schema_check(lake, "raw", category, RAW_KEY, DOC_SCHEMA),
        run_suite("gx_documents_valid", RAW_KEY, check_frame(lake, "raw", category), document_suite(category)),
        dg.AssetCheckResult(
            asset_key=RAW_KEY, check_name="skipped_ratio_bounded", passed=result.skipped_ratio <= bound,
            metadata={"skipped_ratio": result.skipped_ratio, "bound": bound, "skipped": result.skipped_total},
        ),
    ]
