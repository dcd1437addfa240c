"""Gated heuristic rules: a paper rule drops a document unless the classifier ensemble rates it high.

Nemotron-CC (Su et al. 2024, §3 and its ablations; seed 003: "过滤器：对高质量数据，不用过滤器更好")
found that the heuristic filters (Gopher, C4, FineWeb) remove high-quality data, and that not applying
them to the documents the classifiers put in the high buckets gave better models. Here a rule set in
``gated`` mode (configs/scoring.yaml) marks a failing document; once the ensemble bucket is known
(ensemble.py), the document is dropped with that rule as the reason when its bucket is below
``ensemble.high_min_bucket``, and kept with the failure among its ``rule_flags`` otherwise. The
exemption covers failures near the threshold (within ``ensemble.gate_exempt_within`` times it, where the
paper rules misjudge API references, tables and glossaries); far past it the document is what the rule
targets and drops however it scores. Without a classifier there is nothing to exempt it, and a gated
failure drops as a hard one would.
"""

from collections.abc import Sequence

import numpy as np

from curation.document import Drop
from curation.scoring.ensemble import EnsembleConfig
from curation.scoring.rules import Failure

EXEMPT_SUFFIX = " (exempt: high)"  # how a kept gated failure reads in rule_flags


def excess(failure: Failure) -> float:
    """How far past its threshold a failure is, as a factor >= 1 (either direction; inf past zero)."""
    value, threshold = float(failure.value), float(failure.threshold)
    if value > threshold:
        return value / threshold if threshold > 0 else float("inf")
    return threshold / value if value > 0 else float("inf")


def gate(
    ids: Sequence[str],
    gated: Sequence[Failure | None],
    buckets: np.ndarray | None,
    ensemble: EnsembleConfig,
    category: str,
    stage: str,
    param_version: str,
) -> tuple[np.ndarray, list[Drop], list[str | None]]:
    """(mask of rows kept, drops of the rest, per kept-or-not row the flag to add or None)."""
    keep = np.ones(len(ids), dtype=bool)
    drops: list[Drop] = []
    flags: list[str | None] = [None] * len(ids)
    for i, failure in enumerate(gated):
        if failure is None:
            continue
        bucket = int(buckets[i]) if buckets is not None else None
        near = ensemble.gate_exempt_within is None or excess(failure) <= ensemble.gate_exempt_within
        if bucket is not None and bucket >= ensemble.high_min_bucket and near:
            flags[i] = failure.rule + EXEMPT_SUFFIX
            continue
        keep[i] = False
        if bucket is None:
            why = "no classifier to exempt it"
        elif not near:
            why = f"{excess(failure):.3g}x past the threshold > {ensemble.gate_exempt_within} (bucket {bucket})"
        else:
            why = f"ensemble bucket {bucket} < high {ensemble.high_min_bucket}"
        drops.append(Drop(ids[i], category, stage, failure.rule, detail=f"{failure.detail()}; {why}",
                          param_version=param_version))
    return keep, drops, flags
