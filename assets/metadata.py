"""Metadata a person reads in the Dagster UI: rounded numbers, markdown tables, "none" for nothing."""

import math
from collections.abc import Mapping, Sequence

import dagster as dg

SIGNIFICANT_DIGITS = 4


def round_sig(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` to ``digits`` significant digits (0.018750000000000044 → 0.01875); inf/nan unchanged."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _rounded(value):
    """Floats rounded wherever they sit: plain values, float metadata, inside JSON lists and dicts."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return round_sig(value)
    if isinstance(value, dg.FloatMetadataValue) and value.value is not None:
        return dg.MetadataValue.float(round_sig(value.value))
    if isinstance(value, dg.JsonMetadataValue):
        return dg.MetadataValue.json(_rounded(value.data))
    if isinstance(value, dg.MetadataValue):  # markdown, paths, tables: already text
        return value
    if isinstance(value, Mapping):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def readable(metadata: Mapping[str, object]) -> dict[str, object]:
    """Every float in a metadata dict rounded to 4 significant digits (Dagster plots the rounded value)."""
    return {key: _rounded(value) for key, value in metadata.items()}


def md_table(headers: Sequence[str], rows: Sequence[Sequence], empty: str = "none") -> dg.MetadataValue:
    """A markdown table; ``empty`` (default "none") instead of a header with no rows."""
    if not rows:
        return dg.MetadataValue.md(empty)

    def cell(v) -> str:
        text = f"{round_sig(v):.4g}" if isinstance(v, float) else str(v)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def counts_table(counts: Mapping[str, int], key: str = "reason", total: int | None = None) -> dg.MetadataValue:
    """A reason → count table, largest first, with each count's share of ``total``."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if not items:
        return dg.MetadataValue.md("none")
    denom = total or sum(counts.values()) or 1
    return md_table([key, "count", "share"], [(k, v, v / denom) for k, v in items])


def compute_line(description: dict) -> str:
    """Where a step's per-document work ran (``Engine.describe()``), as one line: "engine: ray, cpus: 2, ..."."""
    return ", ".join(f"{k}: {v}" for k, v in description.items())
