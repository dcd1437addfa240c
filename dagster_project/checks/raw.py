"""Blocking checks on ``corpus/raw``: a GX suite on the written partition + a stats bound."""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from curation.document import DOC_SCHEMA
from curation.ingest import IngestResult
from curation.lake import Lake
from dagster_project.checks.gx import expectations, run_suite
from dagster_project.checks.thresholds import check_thresholds

RAW_KEY = dg.AssetKey(["corpus", "raw"])

RAW_CHECK_SPECS = [
    dg.AssetCheckSpec("schema_matches_contract", asset=RAW_KEY, blocking=True,
                      description="Every parquet file has exactly the DOC_SCHEMA columns and types."),
    dg.AssetCheckSpec("gx_documents_valid", asset=RAW_KEY, blocking=True,
                      description="GX suite: ids non-null and unique, text non-empty, category = partition."),
    dg.AssetCheckSpec("skipped_ratio_bounded", asset=RAW_KEY, blocking=True,
                      description="Skipped input lines stay under checks.yaml raw.max_skipped_ratio."),
]


def check_frame(lake: Lake, stage: str, category: str):
    """The columns a document suite needs, with ``text`` reduced to its stripped length so the
    frame stays small (ids + ints) however long the documents are."""
    parts = []
    for batch in lake.iter_batches(stage, category, columns=["id", "text", "category"]):
        stripped = pc.utf8_length(pc.utf8_trim_whitespace(batch.column("text")))
        parts.append(pa.table({"id": batch.column("id"), "text_chars": stripped, "category": batch.column("category")}))
    table = pa.concat_tables(parts) if parts else pa.table({"id": [], "text_chars": [], "category": []})
    return table.to_pandas()


def document_suite(category: str) -> list:
    ex = expectations()
    return [
        ex.ExpectColumnValuesToNotBeNull(column="id"),
        ex.ExpectColumnValuesToBeUnique(column="id"),
        ex.ExpectColumnValuesToNotBeNull(column="text_chars"),
        ex.ExpectColumnValuesToBeBetween(column="text_chars", min_value=1),
        ex.ExpectColumnValuesToBeInSet(column="category", value_set=[category]),
    ]


def schema_check(lake: Lake, stage: str, category: str, asset_key: dg.AssetKey, required: pa.Schema):
    import pyarrow.parquet as pq

    problems = []
    for path in lake.files(stage, category):
        schema = pq.read_schema(path)
        for field in required:
            if field.name not in schema.names:
                problems.append(f"{path.name}: missing column {field.name}")
            elif not schema.field(field.name).type.equals(field.type):
                problems.append(f"{path.name}: {field.name} is {schema.field(field.name).type}, want {field.type}")
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name="schema_matches_contract", passed=not problems,
        metadata={"files": len(lake.files(stage, category)), "problems": "\n".join(problems[:20]) or "none"},
    )


def raw_check_results(lake: Lake, category: str, result: IngestResult) -> list[dg.AssetCheckResult]:
    bound = check_thresholds()["raw"]["max_skipped_ratio"]
    return [
        schema_check(lake, "raw", category, RAW_KEY, DOC_SCHEMA),
        run_suite("gx_documents_valid", RAW_KEY, check_frame(lake, "raw", category), document_suite(category)),
        dg.AssetCheckResult(
            asset_key=RAW_KEY, check_name="skipped_ratio_bounded", passed=result.skipped_ratio <= bound,
            metadata={"skipped_ratio": result.skipped_ratio, "bound": bound, "skipped": result.skipped_total},
        ),
    ]
