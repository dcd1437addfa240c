"""Blocking checks on ``corpus/rewritten``: synthetic documents valid, traceable, and not mostly rejected.

A check with nothing to judge (no synthetic document, no generation attempted) returns WARN with
passed=False and says why: never a silent pass.
"""

import json
import re

import dagster as dg

from assets.checks.documents import check_frame, document_suite
from assets.checks.gx import expectations, run_suite
from assets.checks.rates import wilson_interval
from assets.checks.results import cannot_judge
from assets.checks.thresholds import check_thresholds
from assets.metadata import counts_table
from curation.lake import Lake
from curation.rewrite import SYNTHETIC_COLUMNS, RewriteConfig
from curation.rewrite.prompts import load_templates

REWRITTEN_KEY = dg.AssetKey(["corpus", "rewritten"])
PROVENANCE_KEYS = ("parent_id", "style", "template", "template_sha256", "prompt_sha256", "model", "model_revision",
                   "backend", "sampling", "attempts", "bucket", "param_version")

REWRITTEN_CHECK_SPECS = [
    dg.AssetCheckSpec("gx_synthetic_valid", asset=REWRITTEN_KEY, blocking=True,
                      description="GX suite on the synthetic documents: document contract; style, model, "
                      "mixture_slice (<category>-synthetic-<style>-<bucket>) and provenance present; every parent "
                      "exists in corpus/scored of the same category. WARN when the partition has no synthetic "
                      "document (nothing to validate)."),
    dg.AssetCheckSpec("drop_rate_in_band", asset=REWRITTEN_KEY, blocking=True,
                      description="Share of rewriting jobs whose every attempt failed validation. Fails when the "
                      "lower end of its Wilson 95% interval is above rewritten.drop_rate.max (the data show the rate "
                      "is too high however few jobs ran); WARN when the rate is above the band but the interval "
                      "still reaches into it, or when no job ran. Rates per rejection reason are in the metadata."),
    dg.AssetCheckSpec("provenance_complete", asset=REWRITTEN_KEY, blocking=True,
                      description="Every synthetic document's rewrite_provenance parses and names parent, style, "
                      "template and its hash, model and revision, backend, sampling and attempts; the template "
                      "hash matches the template file shipped now and mixture_slice matches style and bucket."),
]


def _warn(check_name: str, note: str, **metadata) -> dg.AssetCheckResult:
    return cannot_judge(REWRITTEN_KEY, check_name, note, metadata)


def synthetic_frame(lake: Lake, category: str):
    frame = check_frame(lake, "rewritten", category, extra_columns=SYNTHETIC_COLUMNS)
    return frame[frame["style"].notna()]


def gx_synthetic_check(lake: Lake, category: str, synthetic) -> dg.AssetCheckResult:
    if not len(synthetic):
        return _warn("gx_synthetic_valid", f"no synthetic documents in {category}: nothing to validate "
                     "(no route matched, or every rewrite was rejected)", rows_validated=0)
    ex = expectations()
    parents = set()
    for batch in lake.iter_batches("scored", category, columns=["id"]):
        parents.update(batch.column("id").to_pylist())
    slice_pattern = rf"^{re.escape(category)}-synthetic-[A-Za-z0-9_.-]+-[A-Za-z0-9_.-]+$"
    suite = [
        *document_suite(category),
        *(ex.ExpectColumnValuesToNotBeNull(column=c) for c in SYNTHETIC_COLUMNS),
        ex.ExpectColumnValuesToBeInSet(column="parent_id", value_set=sorted(parents) or [""]),
        ex.ExpectColumnValuesToMatchRegex(column="mixture_slice", regex=slice_pattern),
    ]
    return run_suite("gx_synthetic_valid", REWRITTEN_KEY, synthetic, suite)


def drop_rate_check(stats: dict, band: dict) -> dg.AssetCheckResult:
    n, failed = stats["jobs_attempted"], stats["jobs_failed_validation"]
    reasons = counts_table(stats["validation_failures_by_reason"], key="rejection reason")
    if n == 0:
        return _warn("drop_rate_in_band", "no rewriting job ran in this partition: no rate to judge",
                     jobs_attempted=0, rejections_by_reason=reasons)
    rate = failed / n
    low, high = wilson_interval(failed, n, band.get("z", 1.96))
    metadata = {"drop_rate": round(rate, 4), "interval_95": f"[{low:.3f}, {high:.3f}]", "band": f"[{band['min']}, "
                f"{band['max']}]", "jobs_attempted": n, "jobs_failed": failed, "rejections_by_reason": reasons}
    text = f"dropped {failed}/{n} = {rate:.3f} (95% interval [{low:.3f}, {high:.3f}]) vs band [{band['min']}, {band['max']}]"
    if low > band["max"] or high < band["min"]:
        return dg.AssetCheckResult(asset_key=REWRITTEN_KEY, check_name="drop_rate_in_band", passed=False,
                                   severity=dg.AssetCheckSeverity.ERROR, description=f"{text}: out of band",
                                   metadata=metadata)
    if not band["min"] <= rate <= band["max"]:
        return _warn("drop_rate_in_band", f"{text}: above the band, but {n} jobs are too few to be sure", **metadata)
    return dg.AssetCheckResult(asset_key=REWRITTEN_KEY, check_name="drop_rate_in_band", passed=True,
                               description=f"{text}: in band", metadata=metadata)


def provenance_check(category: str, synthetic, config: RewriteConfig) -> dg.AssetCheckResult:
    if not len(synthetic):
        return _warn("provenance_complete", f"no synthetic documents in {category}: no provenance to check",
                     rows_checked=0)
    templates = load_templates(config.prompts_dir, config.styles())
    problems = []
    for doc_id, style, slice_name, raw in zip(synthetic["id"], synthetic["style"], synthetic["mixture_slice"],
                                              synthetic["rewrite_provenance"], strict=True):
        try:
            prov = json.loads(raw)
        except (TypeError, json.JSONDecodeError):
            problems.append(f"{doc_id}: rewrite_provenance is not JSON")
            continue
        missing = [k for k in PROVENANCE_KEYS if k not in prov]
        template = templates.get(prov.get("template"))
        if missing:
            problems.append(f"{doc_id}: provenance lacks {missing}")
        elif template is None or template.file_sha256 != prov["template_sha256"]:
            problems.append(f"{doc_id}: template {prov['template']!r} hash does not match the shipped file")
        elif prov["style"] != style or slice_name != f"{category}-synthetic-{style}-{prov['bucket']}":
            problems.append(f"{doc_id}: style/slice {style}/{slice_name} disagree with provenance")
    return dg.AssetCheckResult(
        asset_key=REWRITTEN_KEY, check_name="provenance_complete", passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(problems)} of {len(synthetic)} synthetic documents with incomplete provenance",
        metadata={"rows_checked": len(synthetic), "problems": "\n".join(problems[:20]) or "none"},
    )


def rewritten_check_results(lake: Lake, category: str, stats: dict, config: RewriteConfig,
                            thresholds: dict | None = None) -> list[dg.AssetCheckResult]:
    synthetic = synthetic_frame(lake, category)
    return [
        gx_synthetic_check(lake, category, synthetic),
        drop_rate_check(stats, (thresholds or check_thresholds())["rewritten"]["drop_rate"]),
        provenance_check(category, synthetic, config),
    ]
