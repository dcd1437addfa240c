"""Blocking checks on ``corpus/deduped``: no exact duplicates remain, ids unique, drop rate in band."""

import dagster as dg

from curation.dedup.config import DedupConfig
from curation.dedup.normalize import exact_hash, normalize_exact
from curation.document import DOC_SCHEMA
from curation.lake import Lake
from assets.checks.documents import (check_frame, document_suite, drop_rate_check, drop_rate_check_spec, schema_check,
                                     schema_check_spec)
from assets.checks.gx import expectations, run_suite
from assets.checks.thresholds import check_thresholds

DEDUPED_KEY = dg.AssetKey(["corpus", "deduped"])

DEDUP_CHECK_SPECS = [
    schema_check_spec(DEDUPED_KEY),
    dg.AssetCheckSpec("gx_no_exact_duplicates", asset=DEDUPED_KEY, blocking=True,
                      description="GX suite: document contract + the normalised-text hash is unique."),
    drop_rate_check_spec(DEDUPED_KEY, "deduped"),
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
                        check_thresholds()["deduped"]["drop_rate"], category),
    ]
