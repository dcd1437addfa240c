"""Readable views of the scored stage's figures: a bucket histogram as a text bar chart, score
quantiles as a table in quantile order."""

from collections.abc import Mapping, Sequence

import dagster as dg

from assets.metadata import md_table

QUANTILE_ORDER = ("p5", "p25", "p50", "p75", "p95")


def bar_chart(counts: Sequence[int] | None, label: str = "bucket", width: int = 30) -> dg.MetadataValue:
    """One markdown table row per bin: the bin, its count and a bar of block characters."""
    if not counts:
        return dg.MetadataValue.md("_no documents scored_")
    top = max(counts) or 1
    return md_table([label, "docs", ""], [(i, c, "█" * round(width * c / top)) for i, c in enumerate(counts)])


def quantiles_table(columns: Mapping[str, Mapping[str, float] | None]) -> dg.MetadataValue:
    """Rows = score columns, columns = p5 … p95 in order; a column with no values is left out."""
    rows = [(name, *(float(q[k]) for k in QUANTILE_ORDER)) for name, q in columns.items() if q]
    if not rows:
        return dg.MetadataValue.md("_no scores_")
    return md_table(["score", *QUANTILE_ORDER], rows)
