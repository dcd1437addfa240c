"""Catastrophic forgetting per category and task across curriculum stages.

Seed 002 reads forgetting off per-benchmark tables after each stage of continued pretraining: after
Chinese adaptation Llama-3-8B lost 6.6 MMLU points (60.91 -> 54.32) and 9.8 HumanEval points
(36.59 -> 26.83) while the Chinese scores rose. ``stage_changes`` turns eval rows (base, stage 1,
stage 2, ...) into the change of every (metric, category/task) against the base model and against the
previous stage, and flags each one: a *forgot* flag when it got worse by more than the configured
bound and by more than its sampling noise (a task scored on 40 items has a standard error near 0.08,
so a small drop there is not evidence), a *collapse* flag when it got catastrophically worse.
``forgetting_check`` condenses that into warn (forgetting) / block (collapse) for an asset check.
"""

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from curation.config_keys import refuse_unknown_keys

# metrics where a larger value is worse; everything else (acc, exact_match, pass@1, ...) is a score
LOWER_IS_BETTER = {"loss", "perplexity", "bits_per_byte", "word_perplexity", "byte_perplexity"}


@dataclass(frozen=True)
class ForgettingBounds:
    max_loss_rise: float = 0.05  # nats a token; seed 002 treats any steady English loss as forgetting
    max_score_drop: float = 0.02  # absolute score (0-1); seed 002's drops were 0.066 and 0.098
    collapse_loss_rise: float = 1.0  # nats a token: perplexity multiplied by e
    collapse_score_ratio: float = 0.5  # a score below half of the base model's (and beyond noise)
    z: float = 2.0  # a drop counts only beyond z standard errors of the difference

    @classmethod
    def from_mapping(cls, raw: Mapping | None) -> "ForgettingBounds":
        raw = dict(raw or {})
        refuse_unknown_keys(raw, cls.__dataclass_fields__, "", "forgetting bounds")
        return cls(**raw)


def _score_se(value: float, n: int | None) -> float:
    """Binomial standard error of a 0-1 score over n items (0 when n is unknown)."""
    if not n or not 0 <= value <= 1:
        return 0.0
    return math.sqrt(max(value * (1 - value), 1.0 / n) / n)  # floor keeps a 0 or 1 score from looking exact


def _key_rows(rows: Iterable[Mapping]) -> dict[tuple[str, str, str], Mapping]:
    out = {}
    for r in rows:
        if r["metric"] == "perplexity":
            continue  # judged on its loss row (same information, additive scale)
        out[str(r["stage"]), str(r["metric"]), str(r.get("task") or r["category"])] = r
    return out


def _compare(metric: str, ref: Mapping, cur: Mapping, bounds: ForgettingBounds) -> dict:
    lower_better = metric in LOWER_IS_BETTER
    change = cur["value"] - ref["value"]
    worse_by = change if lower_better else -change
    if lower_better:
        noise = 0.0  # per-token losses over thousands of tokens: the bound itself is the tolerance
        forgot = worse_by > bounds.max_loss_rise
        collapse = worse_by > bounds.collapse_loss_rise
    else:
        n_ref, n_cur = ref.get("n_items") or ref.get("n_docs"), cur.get("n_items") or cur.get("n_docs")
        noise = math.hypot(_score_se(ref["value"], n_ref), _score_se(cur["value"], n_cur))
        beyond_noise = worse_by > bounds.z * noise
        forgot = worse_by > bounds.max_score_drop and beyond_noise
        collapse = beyond_noise and ref["value"] > 0 and cur["value"] < bounds.collapse_score_ratio * ref["value"]
    status = "collapse" if collapse else "forgot" if forgot else "improved" if worse_by < 0 else "ok"
    return {"change": change, "worse_by": worse_by, "noise": noise, "status": status}


def stage_changes(rows: Iterable[Mapping], stages: Sequence[str], bounds: ForgettingBounds = ForgettingBounds()) -> list[dict]:
    """One row per (later stage, metric, category/task) present in both it and the base (``stages[0]``):
    the change against the base and against the previous stage, each with its flag.

    ``rows``: eval rows with ``stage``, ``metric``, ``category`` (or ``task``), ``value`` and, for task
    scores, ``n_items`` (the noise of a score depends on how many items it rests on)."""
    if len(stages) < 2:
        raise ValueError(f"need a base and at least one stage, got {list(stages)}")
    by_key = _key_rows(rows)
    base, out = stages[0], []
    for previous, stage in itertools.pairwise(stages):
        for (s, metric, name), cur in sorted(by_key.items()):
            if s != stage or (base, metric, name) not in by_key:
                continue
            ref = by_key[base, metric, name]
            vs_base = _compare(metric, ref, cur, bounds)
            prev = by_key.get((previous, metric, name))
            vs_prev = _compare(metric, prev, cur, bounds) if prev is not None and previous != base else None
            out.append({
                "stage": stage, "metric": metric, "category": name, "base": ref["value"], "value": cur["value"],
                "n_items": cur.get("n_items") or cur.get("n_docs"),
                "change_vs_base": vs_base["change"], "noise": vs_base["noise"], "status": vs_base["status"],
                "previous_stage": previous,
                "change_vs_previous": vs_prev["change"] if vs_prev else vs_base["change"],
                "status_vs_previous": vs_prev["status"] if vs_prev else vs_base["status"],
            })
    return out


def forgetting_check(changes: Sequence[Mapping]) -> dict:
    """What the eval table's check reports: block on a collapse, warn on forgetting, pass otherwise;
    a table with no stage-over-base comparison cannot judge and says so (warn, not passed)."""
    def line(c):
        return (f"{c['stage']} {c['category']} {c['metric']}: {c['base']:.4g} -> {c['value']:.4g} "
                f"({c['change_vs_base']:+.4g}, noise {c['noise']:.2g}, n={c['n_items']})")
    collapsed = [line(c) for c in changes if c["status"] == "collapse"]
    forgot = [line(c) for c in changes if c["status"] == "forgot"]
    if not changes:
        return {"severity": "warn", "passed": False, "collapsed": [], "forgot": [],
                "text": "no metric present in both the base model and a later stage: forgetting not judged"}
    severity = "block" if collapsed else "warn" if forgot else "ok"
    text = (f"{len(collapsed)} collapsed, {len(forgot)} forgot beyond bound and noise, "
            f"of {len(changes)} stage x metric x category comparisons")
    return {"severity": severity, "passed": severity == "ok", "collapsed": collapsed, "forgot": forgot, "text": text}
