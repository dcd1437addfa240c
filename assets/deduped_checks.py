"""Blocking checks on ``corpus/deduped``: no exact duplicates remain, ids unique, drop rate in band."""

import dagster as dg

from assets.checks.documents import check_frame, document_suite, drop_rate_check, schema_check
from assets.checks.gx import expectations, run_suite
from assets.checks.thresholds import check_thresholds
from curation.dedup.config import DedupConfig
from curation.dedup.normalize import exact_hash, normalize_exact
from curation.document import DOC_SCHEMA
from curation.lake import Lake

DEDUPED_KEY = dg.AssetKey(["corpus", "deduped"])

DEDUP_CHECK_SPECS = [
    dg.AssetCheckSpec("schema_matches_contract", asset=DEDUPED_KEY, blocking=True,
                      description="Every written file carries the document contract's columns with their types."),
    dg.AssetCheckSpec("gx_no_exact_duplicates", asset=DEDUPED_KEY, blocking=True,
                      description="GX suite: document contract + the normalised-text hash is unique."),
    dg.AssetCheckSpec("drop_rate_in_band", asset=DEDUPED_KEY, blocking=True,
                      description="Share removed within checks.yaml deduped.drop_rate (catches a silent 98 % removal)."),
]


def dedup_check_results(lake: Lake, category: str, stats: dict,
                        thresholds: dict | None = None) -> list[dg.AssetCheckResult]:
    config = DedupConfig()

    def hashes(texts: list[str]) -> list[str]:
        return [exact_hash(normalize_exact(t, config)).hex() for t in texts]

    frame = check_frame(lake, "deduped", category, derived={"exact_hash": hashes})
    suite = [*document_suite(category), expectations().ExpectColumnValuesToBeUnique(column="exact_hash")]
    band = (thresholds or check_thresholds())["deduped"]["drop_rate"]
    # Copies of documents another category already holds are the global index doing its job (the
    # category that loses a race for shared documents would otherwise fail): the band judges what
    # this category removed from the documents only it has.
    cross = int(stats.get("dropped_cross_category", 0))
    within = {"docs_in": stats["docs_in"] - cross, "docs_out": stats["docs_out"]}
    drop = drop_rate_check(DEDUPED_KEY, within, band, category,
                           {"cross_category_duplicates": cross, "docs_in_with_cross_category": stats["docs_in"]})
    n_dup = int(frame["exact_hash"].duplicated().sum()) if len(frame) else 0
    gx = run_suite("gx_no_exact_duplicates", DEDUPED_KEY, frame, suite)
    return [
        schema_check(lake, "deduped", category, DEDUPED_KEY, DOC_SCHEMA),
        dg.AssetCheckResult(asset_key=DEDUPED_KEY, check_name=gx.check_name, passed=gx.passed, metadata=gx.metadata,
                            severity=gx.severity, description=f"{n_dup} of {len(frame)} kept documents repeat an "
                            "earlier document's normalised text" + ("" if gx.passed else " (or the document suite failed)")),
        drop,
    ]
