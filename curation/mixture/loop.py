"""Stage t's slice factors from stage t-1's eval table: the closed loop of the curriculum.

Input: the eval rows of the source stage (per slice: perplexity of the model the stage started
from, ``start``, and of its checkpoint) and that stage's manifest (each slice's group). Output:
f_i per slice, and the table of Δp, δ, f and shares that produced them (``reweight.py``).
"""

from dataclasses import asdict

from curation.mixture.curriculum import StageSpec
from curation.mixture.reweight import reweight
from curation.mixture.spec import MixtureSpec

START, CHECKPOINT, BASE = "start", "checkpoint", "base"


class MissingEvalError(RuntimeError):
    """The stage a reweighting reads has no eval rows yet."""


def stage_weights(stage: StageSpec, spec: MixtureSpec, eval_rows: list[dict], source_manifest: dict | None) -> dict:
    """``{"stage", "mode", "source", "factors", "rows"}``; ``eval_rows``: dicts with model, metric,
    category, value of the source stage's latest eval run."""
    if stage.reweight is None:
        return {"stage": stage.name, "mode": "fixed", "source": None, "factors": {}, "rows": []}
    source = stage.reweight.source
    if not eval_rows or source_manifest is None:
        raise MissingEvalError(
            f"stage {stage.name} reweights from {source}, which has no eval table / mixture yet: "
            f"materialize model/eval_table[{source}] first"
        )
    ppl = {(r["model"], r["category"]): r["value"] for r in eval_rows if r["metric"] == "perplexity"}
    slices = sorted({c for (_, c) in ppl} & set(source_manifest["stats"]["categories"]))
    before_model = START if any(m == START for m, _ in ppl) else BASE
    before = {s: ppl[(before_model, s)] for s in slices if (before_model, s) in ppl}
    after = {s: ppl[(CHECKPOINT, s)] for s in slices if (CHECKPOINT, s) in ppl}
    groups = {s: source_manifest["stats"]["categories"][s]["group"] for s in slices}
    mass: dict[str, float] = {}
    for s in slices:
        mass[groups[s]] = mass.get(groups[s], 0.0) + spec.weight(s)
    r_prev = {s: spec.weight(s) / mass[groups[s]] for s in slices if mass[groups[s]] > 0}
    rows = reweight(r_prev, groups, before, after, stage.reweight.alpha, stage.reweight.w, stage.reweight.default_w)
    return {
        "stage": stage.name,
        "mode": "reweight_from",
        "source": source,
        "before_model": before_model,
        "alpha": stage.reweight.alpha,
        "factors": {r.slice: r.f for r in rows},
        "rows": [asdict(r) for r in rows],
    }
