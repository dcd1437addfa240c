"""Seed 002's PPL-change reweighting (Llama-3-SynE), the loop from the eval table back to the data.

For every slice i evaluated after stage t-1:

    Δp_i = p_i^(t) − p_i^(t−1)           held-out perplexity after stage t-1 minus before it
    δ_i  = Δp_i / max_j |Δp_j|            in [-1, 1]
    f_i  = 1 + α · δ_i · w_i
    r_i^(t) = r_i^(t−1) · f_i / Σ_j r_j^(t−1) · f_j

Sign convention (the seed's): a slice whose perplexity rose (Δp > 0, the model is forgetting it)
gets more weight, one that improved gets less; α scales the step, w_i lets a user damp or
boost single slices. The normalisation Σ_j runs over the slices of one group, so the stage's
group ratios (e.g. 1:7:2) hold exactly and only the split inside each group moves. r^(t−1) is a
slice's within-group share under the stage's configured weights; a slice the eval did not
cover keeps f = 1.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class SliceReweight:
    slice: str
    group: str
    ppl_before: float | None
    ppl_after: float | None
    delta_p: float
    delta_norm: float
    w: float
    f: float
    r_prev: float  # within-group share before reweighting
    r_new: float  # within-group share after


def reweight(
    r_prev: dict[str, float],
    groups: dict[str, str],
    ppl_before: dict[str, float],
    ppl_after: dict[str, float],
    alpha: float,
    w: dict[str, float] | None = None,
    default_w: float = 1.0,
) -> list[SliceReweight]:
    """One row per slice of ``r_prev`` (within-group shares, or any positive weights)."""
    w = w or {}
    deltas = {s: ppl_after[s] - ppl_before[s] for s in r_prev if s in ppl_after and s in ppl_before}
    scale = max((abs(d) for d in deltas.values()), default=0.0)
    f: dict[str, float] = {}
    for s in r_prev:
        wi = w.get(s, default_w)
        if alpha * wi >= 1:
            raise ValueError(f"alpha * w_i = {alpha * wi:.3g} >= 1 for {s}: f_i could reach 0 or below")
        delta = deltas[s] / scale if s in deltas and scale > 0 else 0.0
        f[s] = 1 + alpha * delta * wi
    mass: dict[str, float] = {}
    for s, r in r_prev.items():
        mass[groups[s]] = mass.get(groups[s], 0.0) + r * f[s]
    return [
        SliceReweight(
            slice=s,
            group=groups[s],
            ppl_before=ppl_before.get(s),
            ppl_after=ppl_after.get(s),
            delta_p=deltas.get(s, 0.0),
            delta_norm=deltas[s] / scale if s in deltas and scale > 0 else 0.0,
            w=w.get(s, default_w),
            f=f[s],
            r_prev=r,
            r_new=r * f[s] / mass[groups[s]] if mass[groups[s]] > 0 else 0.0,
        )
        for s, r in sorted(r_prev.items())
    ]
