"""Checks every document stage shares: schema contract, the GX document suite, drop-rate band."""

from collections.abc import Callable, Mapping

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.lake import Lake
from assets.checks.gx import expectations


def check_frame(
    lake: Lake,
    stage: str,
    category: str,
    extra_columns: tuple[str, ...] = (),
    derived: Mapping[str, Callable[[list[str]], list]] | None = None,
):
    """The columns a document suite needs, with ``text`` reduced to its stripped length (and to
    any ``derived`` per-text values, e.g. a hash) so the frame stays small however long the
    documents are."""
    columns = ["id", "text", "category", *extra_columns]
    derived = derived or {}
    parts = []
    for batch in lake.iter_batches(stage, category, columns=columns):
        text = batch.column("text")
        cols = {name: batch.column(name) for name in columns if name != "text"}
        extra = {name: pa.array(fn(text.to_pylist())) for name, fn in derived.items()}
        parts.append(pa.table({**cols, **extra, "text_chars": pc.utf8_length(pc.utf8_trim_whitespace(text))}))
    if not parts:
        empty = {name: pa.array([], pa.string()) for name in ["id", "category", *extra_columns, *derived]}
        return pa.table({**empty, "text_chars": pa.array([], pa.int64())}).to_pandas()
    return pa.concat_tables(parts).to_pandas()


def document_suite(category: str) -> list:
    """What every stage's output must satisfy: ids present and unique, text non-empty, the
    category column equal to the partition."""
    ex = expectations()
    return [
        ex.ExpectColumnValuesToNotBeNull(column="id"),
        ex.ExpectColumnValuesToBeUnique(column="id"),
        ex.ExpectColumnValuesToNotBeNull(column="text_chars"),
        ex.ExpectColumnValuesToBeBetween(column="text_chars", min_value=1),
        ex.ExpectColumnValuesToBeInSet(column="category", value_set=[category]),
    ]


def schema_check(lake: Lake, stage: str, category: str, asset_key: dg.AssetKey, required: pa.Schema):
    """Every parquet file of the partition carries the required columns with the required types."""
    problems = []
    files = lake.files(stage, category)
    for path in files:
        schema = pq.read_schema(path)
        for field in required:
            if field.name not in schema.names:
                problems.append(f"{path.name}: missing column {field.name}")
            elif not schema.field(field.name).type.equals(field.type):
                problems.append(f"{path.name}: {field.name} is {schema.field(field.name).type}, want {field.type}")
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name="schema_matches_contract", passed=not problems,
        metadata={"files": len(files), "problems": "\n".join(problems[:20]) or "none"},
    )


def drop_rate_check(asset_key: dg.AssetKey, stats: dict, band: dict) -> dg.AssetCheckResult:
    """Fails when a stage removed a share of its input outside ``band`` (catches a silent 98 % removal).
    ``band.min_docs`` (optional): below that many inputs a rate is noise (3 of 4) and is not judged."""
    docs_in, docs_out = stats["docs_in"], stats["docs_out"]
    rate = 1 - docs_out / docs_in if docs_in else 0.0
    judged = docs_in >= band.get("min_docs", 0)
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name="drop_rate_in_band", passed=not judged or band["min"] <= rate <= band["max"],
        metadata={"drop_rate": rate, "band_min": band["min"], "band_max": band["max"], "docs_in": docs_in,
                  "docs_out": docs_out, "judged": judged},
    )
