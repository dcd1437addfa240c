"""Checks on model/eval_table: every row present and finite; forgetting warns, a collapse blocks."""

import math
from collections.abc import Mapping, Sequence

import dagster as dg

from assets.checks.results import cannot_judge, verdict

ROWS_CHECK = "row_for_every_category_and_model"
FORGETTING_CHECK = "no_collapse_across_stages"


def rows_result(key: dg.AssetKey, heldout: Mapping, value: Mapping, models: Sequence[str],
                tasks: Sequence[str], task_rows: Sequence[Mapping]) -> dg.AssetCheckResult:
    """Failed when a held-out slice lacks a finite loss/perplexity for a model, or a task has no score."""
    missing = sorted(f"{c}/{m}/{k}" for c in heldout for m in models for k in ("loss", "perplexity")
                     if not math.isfinite(value.get((c, m, k), float("nan"))))
    scored = {(r["model"], r["task"]) for r in task_rows if math.isfinite(r["value"])}
    missing += sorted(f"task {t}/{m}" for t in tasks for m in models if (m, t) not in scored)
    return verdict(key, ROWS_CHECK, [f"missing or non-finite: {', '.join(missing)}"] if missing else [],
                   {"slices": len(heldout), "tasks": len(tasks), "models": ", ".join(models)})


def forgetting_result(key: dg.AssetKey, changes: Sequence[Mapping]) -> dg.AssetCheckResult:
    """ERROR on a collapse, WARN on forgetting beyond bound and noise, WARN when nothing can be compared."""
    from curation.evaluation.forgetting import forgetting_check

    check = forgetting_check(changes)
    counts = {s: sum(c["status"] == s for c in changes) for s in ("ok", "improved", "forgot", "collapse")}
    if not changes:
        return cannot_judge(key, FORGETTING_CHECK, check["text"])
    problems = [f"collapsed: {line}" for line in check["collapsed"]] + [f"forgot: {line}" for line in check["forgot"]]
    severity = dg.AssetCheckSeverity.ERROR if check["severity"] == "block" else dg.AssetCheckSeverity.WARN
    return verdict(key, FORGETTING_CHECK, problems, {**counts, "summary": check["text"]}, severity=severity)
