"""The shared check helpers: failures carry their numbers, too little data is a WARN, contracts are exact."""

import dagster as dg
import pandas as pd
import pyarrow as pa

from assets.checks.documents import document_suite, drop_rate_check, schema_check
from assets.checks.gx import run_suite
from assets.checks.results import cannot_judge, verdict
from assets.metadata import counts_table, md_table, readable, round_sig
from curation.document import DOC_SCHEMA
from curation.lake import Lake, PartitionWriter

KEY = dg.AssetKey(["corpus", "probe"])


def text(result: dg.AssetCheckResult, key: str):
    return result.metadata[key].value


def test_floats_are_rounded_to_four_significant_digits_everywhere():
    assert round_sig(0.018750000000000044) == 0.01875 and round_sig(123456.7) == 123500.0
    got = readable({"share": 0.1 + 0.2, "n": 7, "ok": True, "plotted": dg.MetadataValue.float(2 / 3),
                    "json": dg.MetadataValue.json({"q": [1 / 3, 5]}), "name": "x"})
    assert got["share"] == 0.3 and got["n"] == 7 and got["ok"] is True and got["name"] == "x"
    assert got["plotted"].value == 0.6667 and got["json"].data == {"q": [0.3333, 5]}


def test_empty_tables_say_none():
    assert md_table(["a"], []).value == "none"
    assert counts_table({}).value == "none"
    assert "| x | 3 | 0.75 |" in counts_table({"x": 3, "y": 1}).value


def test_verdict_failure_carries_a_failed_line_and_cannot_judge_is_a_warn():
    failed = verdict(KEY, "c", ["dropped 0.90 > band 0.70 for ui_probe"], {"rate": 0.9000001})
    assert failed.passed is False and failed.severity == dg.AssetCheckSeverity.ERROR
    assert text(failed, "failed") == "dropped 0.90 > band 0.70 for ui_probe" and text(failed, "rate") == 0.9
    assert failed.description == "failed: dropped 0.90 > band 0.70 for ui_probe"
    assert verdict(KEY, "c", []).passed is True
    warn = cannot_judge(KEY, "c", "3 inputs < min_docs 20")
    assert warn.passed is False and warn.severity == dg.AssetCheckSeverity.WARN
    assert "3 inputs < min_docs 20" in warn.description and text(warn, "cannot_judge") == "3 inputs < min_docs 20"


def test_drop_rate_outside_band_names_rate_band_and_category():
    band = {"min": 0.0, "max": 0.7, "min_docs": 20}
    result = drop_rate_check(KEY, {"docs_in": 100, "docs_out": 10}, band, "ui_probe")
    assert result.passed is False and text(result, "failed") == "dropped 0.90 > band 0.70 for ui_probe (90 of 100)"
    low = drop_rate_check(KEY, {"docs_in": 100, "docs_out": 100}, {"min": 0.05, "max": 0.7}, "c")
    assert low.passed is False and "dropped 0.00 < band 0.05 for c" in text(low, "failed")
    tiny = drop_rate_check(KEY, {"docs_in": 4, "docs_out": 1}, band, "ui_probe")
    assert tiny.passed is False and tiny.severity == dg.AssetCheckSeverity.WARN
    nothing = drop_rate_check(KEY, {"docs_in": 0, "docs_out": 0}, {"min": 0.0, "max": 0.5})
    assert nothing.severity == dg.AssetCheckSeverity.WARN


def write(home, table: pa.Table) -> Lake:
    lake = Lake(home)
    with PartitionWriter(lake.stage_dir("probe", "c"), table.schema) as out:
        out.write(table)
    return lake


def docs(extra: dict | None = None) -> pa.Table:
    rows = {"id": ["a"], "text": ["t"], "category": ["c"], "source_shard": ["s"], "source_line": [1], "meta": [None]}
    table = pa.Table.from_pydict(rows, schema=DOC_SCHEMA)
    for name, values in (extra or {}).items():
        table = table.append_column(name, pa.array(values))
    return table


def test_schema_contract_is_exact_unless_the_stage_declares_extras(home):
    assert schema_check(write(home, docs()), "probe", "c", KEY, DOC_SCHEMA).passed is True
    lake = write(home, docs({"stray": [1.0]}))
    extra = schema_check(lake, "probe", "c", KEY, DOC_SCHEMA)
    assert extra.passed is False and "undeclared column stray" in text(extra, "failed")
    assert schema_check(lake, "probe", "c", KEY, DOC_SCHEMA, allowed_extra=("stray",)).passed is True
    missing = write(home, docs().drop(["meta"]))
    assert "missing column meta" in text(schema_check(missing, "probe", "c", KEY, DOC_SCHEMA), "failed")
    empty = schema_check(Lake(home), "probe", "none_here", KEY, DOC_SCHEMA)
    assert empty.passed is False and empty.severity == dg.AssetCheckSeverity.WARN


def test_gx_suite_warns_on_no_rows_and_a_failure_names_expectation_and_counts():
    frame = pd.DataFrame({"id": ["a", "a", "b"], "text_chars": [3, 0, 4], "category": ["c", "c", "c"]})
    failed = run_suite("gx_probe", KEY, frame, document_suite("c"))
    assert failed.passed is False
    line = text(failed, "failed")
    assert "expect_column_values_to_be_unique(id): 2 of 3 rows" in line
    assert "expect_column_values_to_be_between(text_chars): 1 of 3 rows" in line
    empty = run_suite("gx_probe", KEY, frame.iloc[:0], document_suite("c"))
    assert empty.passed is False and empty.severity == dg.AssetCheckSeverity.WARN


def test_every_check_in_the_definitions_has_a_description():
    from dagster_project.definitions import defs

    graph = defs.resolve_asset_graph()
    missing = [f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys
               if not (graph.get_check_spec(key).description or "").strip()]
    assert graph.asset_check_keys and missing == []
