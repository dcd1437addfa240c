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
    drop = drop_rate_check(DEDUPED_KEY, stats, band)
    rate = 1 - stats["docs_out"] / stats["docs_in"] if stats["docs_in"] else 0.0
    n_dup = int(frame["exact_hash"].duplicated().sum()) if len(frame) else 0
    gx = run_suite("gx_no_exact_duplicates", DEDUPED_KEY, frame, suite)
    return [
        schema_check(lake, "deduped", category, DEDUPED_KEY, DOC_SCHEMA),
        dg.AssetCheckResult(asset_key=DEDUPED_KEY, check_name=gx.check_name, passed=gx.passed, metadata=gx.metadata,
                            severity=gx.severity, description=f"{n_dup} of {len(frame)} kept documents repeat an "
                            "earlier document's normalised text" + ("" if gx.passed else " (or the document suite failed)")),
        dg.AssetCheckResult(asset_key=DEDUPED_KEY, check_name="drop_rate_in_band", passed=drop.passed,
                            metadata=drop.metadata, description=f"removed {rate:.3f} of {stats['docs_in']} "
                            f"{'within' if drop.passed else 'outside'} band [{band['min']}, {band['max']}]"),
    ]
