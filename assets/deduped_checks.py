"""Blocking checks on ``corpus/deduped``: no exact duplicates remain, ids unique, drop rate in band."""

import dagster as dg

from curation.dedup.config import DedupConfig
from curation.dedup.normalize import exact_hash, normalize_exact
from curation.document import DOC_SCHEMA
from curation.lake import Lake
from assets.checks.documents import check_frame, document_suite, drop_rate_check, schema_check
from assets.checks.gx import expectations, run_suite
from assets.checks.thresholds import check_thresholds

DEDUPED_KEY = dg.AssetKey(["corpus", "deduped"])

DEDUP_CHECK_SPECS = [
    dg.AssetCheckSpec("schema_matches_contract", asset=DEDUPED_KEY, blocking=True),
    dg.AssetCheckSpec("gx_no_exact_duplicates", asset=DEDUPED_KEY, blocking=True,
                      description="GX suite: document contract + the normalised-text hash is unique."),
    dg.AssetCheckSpec("drop_rate_in_band", asset=DEDUPED_KEY, blocking=True,
                      description="Share removed as duplicates within the category stays within checks.yaml "
                      "deduped.drop_rate (catches a silent 98 % removal); duplicates of documents another category "
                      "kept first are counted apart (asset metadata) and not banded."),
]


def dedup_check_results(lake: Lake, category: str, stats: dict) -> list[dg.AssetCheckResult]:
    config = DedupConfig()

    def hashes(texts: list[str]) -> list[str]:
        return [exact_hash(normalize_exact(t, config)).hex() for t in texts]

    frame = check_frame(lake, "deduped", category, derived={"exact_hash": hashes})
    suite = [*document_suite(category), expectations().ExpectColumnValuesToBeUnique(column="exact_hash")]
    return [
        schema_check(lake, "deduped", category, DEDUPED_KEY, DOC_SCHEMA),
        run_suite("gx_no_exact_duplicates", DEDUPED_KEY, frame, suite),
        # judged on within-category removals: which category keeps a document shared with another
        # is decided by who ran first, so cross-category duplicates are reported, not banded
        drop_rate_check(DEDUPED_KEY, {"docs_in": stats["docs_in"],
                                      "docs_out": stats["docs_in"] - stats["dropped_within_category"]},
                        check_thresholds()["deduped"]["drop_rate"]),
    ]
