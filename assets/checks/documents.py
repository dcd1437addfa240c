"""Checks every document stage shares: schema contract, the GX document suite, drop-rate band."""

from collections.abc import Callable, Collection, Mapping

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assets.checks.gx import expectations
from assets.checks.results import cannot_judge, verdict
from curation.lake import Lake


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


def schema_check_spec(asset_key: dg.AssetKey, allowed_extra: Collection[str] = ()) -> dg.AssetCheckSpec:
    extra = f"; extra columns allowed: {', '.join(sorted(allowed_extra))}" if allowed_extra else "; no other column"
    return dg.AssetCheckSpec("schema_matches_contract", asset=asset_key, blocking=True,
                             description=f"Every parquet file has exactly the stage's contract columns and types{extra}.")


def schema_check(lake: Lake, stage: str, category: str, asset_key: dg.AssetKey, required: pa.Schema,
                 allowed_extra: Collection[str] = ()) -> dg.AssetCheckResult:
    """Every parquet file of the partition carries exactly the ``required`` columns with their types,
    plus only the extra columns the stage declares in ``allowed_extra`` (any type)."""
    problems = []
    files = lake.files(stage, category)
    allowed = set(required.names) | set(allowed_extra)
    for path in files:
        schema = pq.read_schema(path)
        for field in required:
            if field.name not in schema.names:
                problems.append(f"{path.name}: missing column {field.name}")
            elif not schema.field(field.name).type.equals(field.type):
                problems.append(f"{path.name}: {field.name} is {schema.field(field.name).type}, want {field.type}")
        problems += [f"{path.name}: undeclared column {name}" for name in schema.names if name not in allowed]
    if not files:
        return cannot_judge(asset_key, "schema_matches_contract", f"no parquet files in {stage}/{category}",
                            {"files": 0})
    return verdict(asset_key, "schema_matches_contract", problems,
                   {"files": len(files), "problems": "\n".join(problems[:20]) or "none"})


def drop_rate_check_spec(asset_key: dg.AssetKey, stage: str, what: str = "documents") -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "drop_rate_in_band", asset=asset_key, blocking=True,
        description=f"Share of {what} removed within checks.yaml {stage}.drop_rate (catches a silent 98 % removal); "
        "below its min_docs a rate is noise and the check warns that it cannot judge.")


def drop_rate_check(asset_key: dg.AssetKey, stats: dict, band: dict, category: str = "",
                    extra: dict | None = None) -> dg.AssetCheckResult:
    """Fails when a stage removed a share of its input outside ``band`` (catches a silent 98 % removal).
    ``band.min_docs`` (optional): below that many inputs a rate is noise (3 of 4): WARN, not judged."""
    docs_in, docs_out = stats["docs_in"], stats["docs_out"]
    rate = 1 - docs_out / docs_in if docs_in else 0.0
    metadata = {"drop_rate": rate, "band": f"{band['min']:.2f}..{band['max']:.2f}", "docs_in": docs_in,
                "docs_out": docs_out, **(extra or {})}
    where = f" for {category}" if category else ""
    min_docs = max(band.get("min_docs", 0), 1)
    if docs_in < min_docs:
        return cannot_judge(asset_key, "drop_rate_in_band",
                            f"{docs_in} inputs{where} < min_docs {min_docs}: a drop rate is noise", metadata)
    problems = []
    if rate > band["max"]:
        problems.append(f"dropped {rate:.2f} > band {band['max']:.2f}{where} ({docs_in - docs_out} of {docs_in})")
    if rate < band["min"]:
        problems.append(f"dropped {rate:.2f} < band {band['min']:.2f}{where} ({docs_in - docs_out} of {docs_in})")
    return verdict(asset_key, "drop_rate_in_band", problems, metadata)
