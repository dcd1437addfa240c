"""Blocking checks of corpus/mixed, judged from the files the mixture wrote (curation/mixture/verify.py)."""

import dagster as dg

from assets.metadata import md_table
from curation.decontam.index import EvalIndex
from curation.mixture import verify

MIXED_KEY = dg.AssetKey(["corpus", "mixed"])

MIXED_CHECK_SPECS = [
    dg.AssetCheckSpec(
        "proportions_match_spec", asset=MIXED_KEY, blocking=True,
        description="Token shares per slice and per group recomputed from the written .idx files (through the "
        "samples table, itself checked against the .idx) within the spec's tolerance of the stage's ratios and "
        "slice weights; spec slices or stage groups with nothing written are listed."),
    dg.AssetCheckSpec(
        "heldout_not_in_train", asset=MIXED_KEY, blocking=True,
        description="Training rows of the written samples share no id with the held-out files of this stage or an "
        "earlier one, train no rewrite of a held-out document and no source of a held-out rewrite."),
    dg.AssetCheckSpec(
        "no_eval_overlap", asset=MIXED_KEY, blocking=True,
        description="Every training document, decoded from the .bin files, overlaps no eval text (packaged "
        "benchmarks, $CORPUSFORGE_HOME/evalsets, held-out documents) at or above the decontamination bound."),
    dg.AssetCheckSpec(
        "repeats_within_max", asset=MIXED_KEY,
        description="Warns when a slice is repeated more than the spec's max_repeat epochs "
        "(Muennighoff et al. 2023: returns vanish after ~4)."),
]


def proportions_result(mixture_dir) -> dg.AssetCheckResult:
    alignment = verify.file_alignment(mixture_dir)
    report = verify.share_report(mixture_dir) if not alignment else None
    problems = alignment + (report.violations if report else [])
    metadata = {"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
                "missing_in_files": ", ".join(report.missing) if report and report.missing else "none"}
    if report:
        metadata["groups"] = md_table(["group", "spec share", "written share"], report.groups)
        metadata["slices"] = md_table(["slice", "group", "spec share", "written share", "tokens"], report.slices)
        metadata["written_tokens"] = report.total_tokens
    return dg.AssetCheckResult(asset_key=MIXED_KEY, check_name="proportions_match_spec", passed=not problems,
                               metadata=metadata, description="; ".join(problems)[:1000] or None)


def heldout_result(mixture_dir, earlier_dirs) -> dg.AssetCheckResult:
    leaks = verify.heldout_leaks(mixture_dir, earlier_dirs)
    held, parents = verify.heldout_ids([mixture_dir, *earlier_dirs])
    return dg.AssetCheckResult(
        asset_key=MIXED_KEY, check_name="heldout_not_in_train", passed=not leaks,
        description="; ".join(leaks) or None,
        metadata={"leaks": "; ".join(leaks) or "none", "heldout_ids_checked": len(held),
                  "heldout_parents_checked": len(parents), "stages_checked": 1 + len(earlier_dirs)})


def eval_overlap_result(mixture_dir, tokenizer, eod: int, index: EvalIndex, bound: float,
                        enabled: bool) -> dg.AssetCheckResult:
    checked, found = verify.eval_overlaps(mixture_dir, tokenizer, eod, index, bound)
    rows = [(doc_id, f"{m.source}:{m.item_id}", m.overlap, m.ngram[:80]) for doc_id, m in found[:20]]
    text = (f"{len(found)} of {checked} training documents overlap an eval item at >= {bound}"
            + ("" if enabled else " (decontamination is disabled in configs/mixture.yaml)"))
    return dg.AssetCheckResult(
        asset_key=MIXED_KEY, check_name="no_eval_overlap", passed=not found,
        description=text if found else None,
        metadata={"result": text, "docs_checked": checked, "eval_items": index.num_items,
                  "eval_items_too_short": index.skipped_short, "ngram_n": index.n,
                  "overlaps": md_table(["doc", "eval item", "overlap", "n-gram"], rows) if rows else "none"})


def repeats_result(stats: dict, max_repeat: float) -> dg.AssetCheckResult:
    over = [f"{n} ({c['repeat_factor']:.1f}x)" for n, c in sorted(stats["categories"].items()) if c["exceeds_max_repeat"]]
    return dg.AssetCheckResult(asset_key=MIXED_KEY, check_name="repeats_within_max", passed=not over,
                               severity=dg.AssetCheckSeverity.WARN,
                               description=f"repeated more than {max_repeat} epochs: {', '.join(over)}" if over else None,
                               metadata={"over_repeated": ", ".join(over) or "none"})
