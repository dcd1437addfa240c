"""Slices and groups: what a document is filed under, and how group ratios become slice shares.

A *slice* is the unit that gets one Megatron dataset and one held-out set: the document's
``mixture_slice`` column when present (the shared contract of the synthesis/selection stages),
else its ``category``, or ``<category>-synthetic-<style>`` for a rewrite. A *group* is what a
curriculum stage's ratios are over (seed 002: Chinese : English 2:8, then Chinese : English :
synthetic 1:7:2): ``synthetic`` for generated documents (a ``style`` or a ``parent_id``), else the
language the scoring stage identified (``lang``; ``und`` when unknown). Nothing here knows the
sample corpus's category names.

A slice's group is the group holding most of its tokens (a slice is one dataset, so it cannot be
split); the mixture reports the minority share so a mixed-language slice is visible.
"""

from collections import Counter

from curation.document import validate_category

SYNTHETIC = "synthetic"
UNKNOWN_LANG = "und"


def synthetic_category(category: str, style: str) -> str:
    """Name of the synthetic slice of ``category`` rewritten in ``style`` (seed 000:
    ``Nemotron-CC-high-synthetic-wrap_medium-high``)."""
    return validate_category(f"{category}-synthetic-{style}")


def document_slice(category: str, style: str | None, mixture_slice: str | None, subdivision: str | None = None) -> str:
    """The document's slice; ``subdivision`` (the value of the spec's ``slice_by`` column, e.g. its topic)
    makes it ``<slice>.<subdivision>``."""
    if mixture_slice:
        name = validate_category(mixture_slice)
    else:
        name = synthetic_category(category, style) if style else validate_category(category)
    return validate_category(f"{name}.{subdivision}") if subdivision else name


def document_group(lang: str | None, style: str | None, parent_id: str | None) -> str:
    if style or parent_id:
        return SYNTHETIC
    return lang or UNKNOWN_LANG


def majority_group(token_counts: Counter) -> tuple[str, float]:
    """(group with most tokens, share of tokens outside it); ties broken by name."""
    total = sum(token_counts.values())
    if not total:
        return UNKNOWN_LANG, 0.0
    group = min(token_counts, key=lambda g: (-token_counts[g], g))
    return group, 1 - token_counts[group] / total


def slice_shares(
    slice_groups: dict[str, str],
    slice_weights: dict[str, float],
    group_ratios: dict[str, float],
    default_ratio: float,
) -> tuple[dict[str, float], dict[str, float]]:
    """Token shares of the slices, and the group shares they realise.

    With ``group_ratios`` empty the shares are the slice weights normalised over every slice (a
    plain seed-000 mixture). Otherwise a group's share is its ratio (``default_ratio`` for a
    group the stage does not list), normalised over the groups that have data, split among its
    slices by their weights. Slices of weight 0, and groups of ratio 0, get nothing.
    """
    if not group_ratios:
        total = sum(slice_weights[s] for s in slice_groups)
        shares = {s: slice_weights[s] / total if total else 0.0 for s in slice_groups}
    else:
        ratio = {g: group_ratios.get(g, default_ratio) for g in set(slice_groups.values())}
        in_group: dict[str, float] = Counter()
        for s, g in slice_groups.items():
            in_group[g] += slice_weights[s]
        ratio = {g: r for g, r in ratio.items() if in_group[g] > 0}
        total = sum(ratio.values())
        shares = {
            s: (ratio.get(g, 0.0) / total) * (slice_weights[s] / in_group[g]) if total and in_group[g] else 0.0
            for s, g in slice_groups.items()
        }
    groups: dict[str, float] = Counter()
    for s, share in shares.items():
        groups[slice_groups[s]] += share
    return shares, dict(groups)
