"""Blocking checks on ``corpus/selected``, computed from the written partition (its topic, cluster and
token columns) and the stage's budget: topic shares within the taxonomy's bounds, no cluster over-represented,
the budget met. Too few selected documents to judge: WARN with the count, never a silent pass.
"""

from collections import Counter

import dagster as dg

from assets.checks.results import cannot_judge, verdict
from assets.checks.thresholds import check_thresholds
from curation.lake import Lake
from curation.selection import STAGE, Taxonomy

SELECTED_KEY = dg.AssetKey(["corpus", "selected"])

SELECTED_CHECK_SPECS = [
    dg.AssetCheckSpec("topic_shares_within_bounds", asset=SELECTED_KEY, blocking=True,
                      description="Each topic's share of the selected tokens lies within its bounds in "
                      "configs/topics.yaml (`bounds`; the fallback topic's max says how much the taxonomy may "
                      "fail to place). WARN below selected.min_docs documents or when no bound is set."),
    dg.AssetCheckSpec("no_cluster_over_represented", asset=SELECTED_KEY, blocking=True,
                      description="No diversity cluster holds more than selected.max_cluster_share of the selected "
                      "tokens (unless it held more than that of the available tokens and the selection shrank it). "
                      "WARN below selected.min_docs documents or with a single cluster."),
    dg.AssetCheckSpec("budget_met", asset=SELECTED_KEY, blocking=True,
                      description="Selected units (tokens or documents, configs/selection.yaml budget) reach the "
                      "budget within selected.budget_tolerance; a failure says by how much they fall short. WARN "
                      "below selected.min_docs available documents."),
]


def selected_shares(lake: Lake, category: str) -> tuple[int, Counter, Counter]:
    """(selected documents, tokens per topic, tokens per cluster) read from the written partition."""
    docs, topics, clusters = 0, Counter(), Counter()
    for batch in lake.iter_batches(STAGE, category, columns=["topic", "selection_cluster", "selection_tokens"]):
        for topic, cl, n in zip(*(batch.column(c).to_pylist() for c in batch.schema.names)):
            docs += 1
            topics[topic] += n or 0
            clusters[cl] += n or 0
    return docs, topics, clusters


def _shares(counts: Counter) -> dict:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def topic_check(docs: int, topic_tokens: Counter, taxonomy: Taxonomy, bounds: dict) -> dg.AssetCheckResult:
    name = "topic_shares_within_bounds"
    shares = _shares(topic_tokens)
    meta = {"selected_docs": docs, "topic_shares": {k: round(v, 4) for k, v in sorted(shares.items())}}
    if docs < bounds["min_docs"]:
        return cannot_judge(SELECTED_KEY, name, f"{docs} selected documents < selected.min_docs "
                            f"{bounds['min_docs']}: topic shares of so few documents say nothing", meta)
    limits = dict(taxonomy.bounds or {})
    if not limits:
        return cannot_judge(SELECTED_KEY, name, "configs/topics.yaml sets no topic bounds: nothing to hold the "
                            "shares to (shares are in the metadata)", meta)
    problems = []
    for topic, (lo, hi) in sorted(limits.items()):
        share = shares.get(topic, 0.0)
        if share < lo - 1e-12 or share > hi + 1e-12:
            problems.append(f"topic {topic} holds {share:.3f} of the selected tokens, outside [{lo:.3f}, {hi:.3f}]")
    return verdict(SELECTED_KEY, name, problems, {**meta, "bounds": {k: list(v) for k, v in limits.items()}})


def cluster_check(docs: int, cluster_tokens: Counter, stats: dict, bounds: dict) -> dg.AssetCheckResult:
    name = "no_cluster_over_represented"
    shares = _shares(cluster_tokens)
    meta = {"selected_docs": docs, "clusters": len(cluster_tokens),
            "largest_cluster_share": round(max(shares.values()), 4) if shares else None}
    if docs < bounds["min_docs"]:
        return cannot_judge(SELECTED_KEY, name, f"{docs} selected documents < selected.min_docs {bounds['min_docs']}",
                            meta)
    if len(cluster_tokens) < 2:
        return cannot_judge(SELECTED_KEY, name, "one cluster only (diversity.method none, or every cluster merged): "
                            "there is nothing to be over-represented against", meta)
    limit = bounds["max_cluster_share"]
    available_share = {c["cluster"]: c.get("available_share") for c in stats.get("clusters", [])}
    problems = []
    for cl, share in sorted(shares.items(), key=lambda kv: -kv[1]):
        before = available_share.get(cl)
        if share > limit and not (before is not None and before >= share):
            problems.append(f"cluster {cl} holds {share:.3f} of the selected tokens > max_cluster_share {limit:.3f}"
                            + (f" (it held {before:.3f} of the available tokens)" if before is not None else ""))
    return verdict(SELECTED_KEY, name, problems, {**meta, "max_cluster_share": limit})


def budget_check(stats: dict, bounds: dict) -> dg.AssetCheckResult:
    name = "budget_met"
    b = stats["budget"]
    meta = {"unit": b["unit"], "budget": round(b["budget"], 1), "selected": round(b["selected"], 1),
            "available": round(b["available"], 1), "shortfall": round(b["shortfall"], 1), "budget_from": b["from"]}
    if stats["docs_in"] < bounds["min_docs"]:
        return cannot_judge(SELECTED_KEY, name, f"{stats['docs_in']} documents available < selected.min_docs "
                            f"{bounds['min_docs']}", meta)
    tol = bounds["budget_tolerance"]
    problem = None
    if b["selected"] < b["budget"] * (1 - tol):
        why = " (the category has only that much)" if b["available"] < b["budget"] else ""
        problem = (f"selected {b['selected']:.0f} {b['unit']} of a {b['budget']:.0f} budget: short by "
                   f"{b['shortfall']:.0f} ({b['shortfall'] / b['budget']:.1%}) > tolerance {tol:.1%}{why}")
    return verdict(SELECTED_KEY, name, problem, meta)


def selected_check_results(lake: Lake, category: str, stats: dict, taxonomy: Taxonomy,
                           thresholds: dict | None = None) -> list[dg.AssetCheckResult]:
    bounds = (thresholds or check_thresholds())["selected"]
    docs, topics, clusters = selected_shares(lake, category)
    return [topic_check(docs, topics, taxonomy, bounds), cluster_check(docs, clusters, stats, bounds),
            budget_check(stats, bounds)]
