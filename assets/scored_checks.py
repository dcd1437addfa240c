"""Blocking checks on ``corpus/scored``: scores in range, every document bucketed, buckets that agree
with the scores, the language mix the category's profile expects, drop rate in its profile's band.

Every check that fails says its numbers in its description; one with too little data to judge
returns WARN, passed=False, with a note (never a silent pass)."""

import dagster as dg
import numpy as np

from assets.checks.documents import check_frame, document_suite, drop_rate_check
from assets.checks.gx import expectations, run_suite
from assets.checks.thresholds import check_thresholds
from curation.lake import Lake
from curation.scoring import CATEGORICAL_VALUES, SCORE_RANGES

SCORED_KEY = dg.AssetKey(["corpus", "scored"])

SCORED_CHECK_SPECS = [
    dg.AssetCheckSpec("gx_scores_valid", asset=SCORED_KEY, blocking=True,
                      description="GX suite: document contract, every score in its range, every document bucketed."),
    dg.AssetCheckSpec("bucket_distribution_sane", asset=SCORED_KEY, blocking=True,
                      description="Fails when a classifier's scores are constant (a degenerate scorer), when one "
                      "quality bucket holds more than scored.max_bucket_share while the DCLM scores spread over "
                      "scored.mixed_score_spread (the buckets hide a mixed category), or a loss tercile is empty."),
    dg.AssetCheckSpec("language_mix_expected", asset=SCORED_KEY, blocking=True,
                      description="Share of documents confidently labelled outside the expected languages (configured, "
                      "or the detected profile's) under scored.max_lang_mismatch_share; judged for code too."),
    dg.AssetCheckSpec("drop_rate_in_band", asset=SCORED_KEY, blocking=True,
                      description="Share removed by the rules within the band of the category's profile kind "
                      "(checks.yaml scored.drop_rate_by_kind): short good text must not be mass-dropped."),
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


def _not_judged(check_name: str, note: str, metadata: dict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(asset_key=SCORED_KEY, check_name=check_name, passed=False,
                               severity=dg.AssetCheckSeverity.WARN, description=f"not judged: {note}",
                               metadata={**metadata, "note": note})


def _spread(values) -> float:
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(np.quantile(finite, 0.95) - np.quantile(finite, 0.05)) if finite.size else 0.0


def bucket_check(frame, limits: dict) -> dg.AssetCheckResult:
    n = len(frame)
    name = "bucket_distribution_sane"
    if n < limits["min_docs_for_distribution"]:
        return _not_judged(name, f"{n} documents < {limits['min_docs_for_distribution']}: a bucket share of so few "
                           "says nothing", {"documents": n})
    shares = frame["quality_bucket"].value_counts(normalize=True).to_dict()
    top_bucket, top = max(shares.items(), key=lambda kv: kv[1])
    spreads = {c: _spread(frame[c]) for c in ("dclm_score", "edu_score") if frame[c].notna().any()}
    loss_counts = frame["loss_bucket"].value_counts().to_dict()
    empty_loss = [b for b in CATEGORICAL_VALUES["loss_bucket"] if not loss_counts.get(b)]
    problems = []
    constant = [c for c, s in spreads.items() if s < limits["min_score_spread"]]
    if spreads and len(constant) == len(spreads):
        problems.append(f"scores constant: p95-p5 of {', '.join(constant)} "
                        f"{', '.join(f'{spreads[c]:.3g}' for c in constant)} < {limits['min_score_spread']}")
    dclm_spread = spreads.get("dclm_score", 0.0)
    if top > limits["max_bucket_share"] and dclm_spread >= limits["mixed_score_spread"]:
        problems.append(f"{top:.3f} of documents '{top_bucket}' > {limits['max_bucket_share']} although DCLM scores "
                        f"spread {dclm_spread:.3f} >= {limits['mixed_score_spread']} (a mixed category)")
    if empty_loss:
        problems.append(f"empty loss bucket(s): {', '.join(empty_loss)}")
    return dg.AssetCheckResult(
        asset_key=SCORED_KEY, check_name=name, passed=not problems,
        description="; ".join(problems) or f"largest bucket '{top_bucket}' {top:.3f}, DCLM spread {dclm_spread:.3f}",
        metadata={"documents": n, "largest_bucket": top_bucket, "largest_share": round(top, 4),
                  "max_bucket_share": limits["max_bucket_share"], "dclm_spread_p95_p5": round(dclm_spread, 4),
                  "edu_spread_p95_p5": round(spreads.get("edu_score", 0.0), 4),
                  "empty_loss_buckets": ", ".join(empty_loss) or "none"},
    )


def language_check(frame, stats: dict, limits: dict) -> dg.AssetCheckResult:
    name = "language_mix_expected"
    expected = set(stats.get("expected_languages") or [])
    n = len(frame)
    if not expected:
        return _not_judged(name, "no expected language: none configured and the profile sample had no confident "
                           "label", {"documents": n})
    if n == 0:
        return _not_judged(name, "no documents kept", {"documents": 0})
    confident = frame["lang"][frame["lang"] != "und"]
    outside = confident[~confident.isin(expected)]
    share = len(outside) / n
    bound = limits["max_lang_mismatch_share"]
    top_outside = outside.value_counts().head(5).to_dict()
    return dg.AssetCheckResult(
        asset_key=SCORED_KEY, check_name=name, passed=share <= bound,
        description=f"{share:.3f} of {n} documents in languages outside {sorted(expected)} "
        f"({'>' if share > bound else '<='} {bound})" + (f": {top_outside}" if top_outside else ""),
        metadata={"lang_mismatch_share": round(share, 4), "bound": bound, "documents": n,
                  "expected": ", ".join(sorted(expected)),
                  "outside_languages": ", ".join(f"{k}: {v}" for k, v in top_outside.items()) or "none"},
    )


def drop_band(limits: dict, stats: dict) -> dict:
    """The drop-rate band for the category's profile kind-length, else kind, else the general band."""
    profile = stats.get("profile") or {}
    by_kind = limits.get("drop_rate_by_kind") or {}
    key = f"{profile.get('kind')}-{profile.get('length')}"
    return by_kind.get(key) or by_kind.get(profile.get("kind")) or limits["drop_rate"]


def scored_check_results(lake: Lake, category: str, stats: dict,
                         thresholds: dict | None = None) -> list[dg.AssetCheckResult]:
    limits = (thresholds or check_thresholds())["scored"]
    frame = check_frame(lake, "scored", category, extra_columns=(*SCORE_RANGES, *CATEGORICAL_VALUES, "lang"))
    band = drop_band(limits, stats)
    drop = drop_rate_check(SCORED_KEY, stats, band)
    rate = 1 - stats["docs_out"] / stats["docs_in"] if stats["docs_in"] else 0.0
    drop = dg.AssetCheckResult(
        asset_key=SCORED_KEY, check_name="drop_rate_in_band", passed=drop.passed, metadata=drop.metadata,
        description=f"dropped {rate:.3f} {'within' if drop.passed else 'outside'} band "
        f"[{band['min']}, {band['max']}] for profile {(stats.get('profile') or {}).get('name', '?')}",
    )
    return [
        run_suite("gx_scores_valid", SCORED_KEY, frame, score_suite(category)),
        bucket_check(frame, limits),
        language_check(frame, stats, limits),
        drop,
    ]
