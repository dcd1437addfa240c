"""Markdown helpers for materialization metadata a person reads in the Dagster UI."""

from collections.abc import Mapping, Sequence

import dagster as dg


def md_table(headers: Sequence[str], rows: Sequence[Sequence]) -> dg.MetadataValue:
    def cell(v) -> str:
        text = f"{v:.4g}" if isinstance(v, float) else str(v)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def counts_table(counts: Mapping[str, int], key: str = "reason", total: int | None = None) -> dg.MetadataValue:
    """A reason → count table, largest first, with each count's share of ``total``."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if not items:
        return dg.MetadataValue.md(f"_no {key}s_")
    denom = total or sum(counts.values()) or 1
    return md_table([key, "count", "share"], [(k, v, v / denom) for k, v in items])
