"""Blocking checks on ``corpus/scored``: scores in range, every document bucketed, sane buckets,
language mix as configured, drop rate in band."""

import dagster as dg

from curation.lake import Lake
from curation.scoring import CATEGORICAL_VALUES, SCORE_RANGES
from assets.checks.documents import check_frame, document_suite, drop_rate_check, drop_rate_check_spec
from assets.checks.gx import expectations, run_suite
from assets.checks.thresholds import check_thresholds

SCORED_KEY = dg.AssetKey(["corpus", "scored"])

SCORED_CHECK_SPECS = [
    dg.AssetCheckSpec("gx_scores_valid", asset=SCORED_KEY, blocking=True,
                      description="GX suite: document contract, every score in its range, every document bucketed."),
    dg.AssetCheckSpec("bucket_distribution_sane", asset=SCORED_KEY, blocking=True,
                      description="No quality bucket above checks.yaml scored.max_bucket_share; no loss bucket empty."),
    dg.AssetCheckSpec("language_mix_expected", asset=SCORED_KEY, blocking=True,
                      description="Share of documents in an unexpected language under scored.max_lang_mismatch_share."),
    drop_rate_check_spec(SCORED_KEY, "scored"),
]


def score_suite(category: str) -> list:
    ex = expectations()
    suite = document_suite(category)
    for column, (low, high) in SCORE_RANGES.items():
        suite.append(ex.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high))
    for column, values in CATEGORICAL_VALUES.items():
        suite.append(ex.ExpectColumnValuesToBeInSet(column=column, value_set=list(values)))
    suite.append(ex.ExpectColumnValuesToNotBeNull(column="quality_bucket"))
    return suite


def scored_check_results(lake: Lake, category: str, stats: dict) -> list[dg.AssetCheckResult]:
    limits = check_thresholds()["scored"]
    frame = check_frame(lake, "scored", category, extra_columns=(*SCORE_RANGES, *CATEGORICAL_VALUES, "lang_mismatch"))
    n = len(frame)
    quality_shares = frame["quality_bucket"].value_counts(normalize=True).to_dict() if n else {}
    loss_counts = frame["loss_bucket"].value_counts().to_dict() if n else {}
    judged = n >= limits["min_docs_for_distribution"]
    empty_loss = [b for b in CATEGORICAL_VALUES["loss_bucket"] if judged and not loss_counts.get(b)]
    top = max(quality_shares.values(), default=0.0) if judged else 0.0
    mismatch_share = float(frame["lang_mismatch"].fillna(False).mean()) if n else 0.0
    return [
        run_suite("gx_scores_valid", SCORED_KEY, frame, score_suite(category)),
        dg.AssetCheckResult(
            asset_key=SCORED_KEY, check_name="bucket_distribution_sane",
            passed=top <= limits["max_bucket_share"] and not empty_loss,
            metadata={"documents": n, "judged": judged,"quality_bucket_shares": dg.MetadataValue.json(quality_shares), "largest_share": top,
                      "max_bucket_share": limits["max_bucket_share"], "empty_loss_buckets": ", ".join(empty_loss)},
        ),
        dg.AssetCheckResult(
            asset_key=SCORED_KEY, check_name="language_mix_expected",
            passed=mismatch_share <= limits["max_lang_mismatch_share"],
            metadata={"lang_mismatch_share": mismatch_share, "bound": limits["max_lang_mismatch_share"],
                      "languages": dg.MetadataValue.json(stats.get("languages", {}))},
        ),
        drop_rate_check(SCORED_KEY, stats, limits["drop_rate"], category),
    ]
