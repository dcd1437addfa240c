"""Blocking checks on ``corpus/rewritten``: synthetic documents valid and linked to a real parent."""

import dagster as dg

from curation.lake import Lake
from assets.checks.documents import check_frame, document_suite, drop_rate_check
from assets.checks.gx import expectations, run_suite
from assets.checks.thresholds import check_thresholds

REWRITTEN_KEY = dg.AssetKey(["corpus", "rewritten"])

REWRITTEN_CHECK_SPECS = [
    dg.AssetCheckSpec("gx_synthetic_valid", asset=REWRITTEN_KEY, blocking=True,
                      description="GX suite: document contract; every synthetic document has a style, a model and a "
                      "parent that exists in corpus/scored of the same category."),
    dg.AssetCheckSpec("drop_rate_in_band", asset=REWRITTEN_KEY, blocking=True,
                      description="Share of attempted rewrites that failed validation within rewritten.drop_rate."),
]


def rewritten_check_results(lake: Lake, category: str, stats: dict) -> list[dg.AssetCheckResult]:
    ex = expectations()
    frame = check_frame(lake, "rewritten", category, extra_columns=("parent_id", "style", "model"))
    synthetic = frame[frame["style"].notna()]
    parents = set()
    for batch in lake.iter_batches("scored", category, columns=["id"]):
        parents.update(batch.column("id").to_pylist())
    suite = [
        *document_suite(category),
        ex.ExpectColumnValuesToNotBeNull(column="parent_id"),
        ex.ExpectColumnValuesToNotBeNull(column="model"),
        ex.ExpectColumnValuesToBeInSet(column="parent_id", value_set=sorted(parents) or [""]),
    ]
    gx = run_suite("gx_synthetic_valid", REWRITTEN_KEY, synthetic, suite) if len(synthetic) else dg.AssetCheckResult(
        asset_key=REWRITTEN_KEY, check_name="gx_synthetic_valid", passed=True,
        metadata={"rows_validated": 0, "note": "no synthetic documents in this partition"})
    attempted = stats["synthetic_docs"] + sum(stats["drops_by_reason"].values())
    rate_stats = {"docs_in": attempted, "docs_out": stats["synthetic_docs"]}
    return [gx, drop_rate_check(REWRITTEN_KEY, rate_stats, check_thresholds()["rewritten"]["drop_rate"], category)]

