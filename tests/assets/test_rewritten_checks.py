"""The rewritten stage's checks fail on the bad data they exist for, and WARN when they cannot judge."""

import json

import dagster as dg
import pyarrow as pa

from assets.rewritten_checks import (
    drop_rate_check,
    gx_synthetic_check,
    provenance_check,
    synthetic_frame,
    wilson_interval,
)
from curation.document import DOC_SCHEMA
from curation.lake import Lake, PartitionWriter
from curation.rewrite import RewriteConfig, output_schema
from curation.rewrite.prompts import load_templates

BAND = {"min": 0.0, "max": 0.5, "z": 1.96}
CONFIG = RewriteConfig()


def write(home, category, synthetic_rows, parents=("p0", "p1")):
    lake = Lake(home)
    base = [{"id": p, "text": f"parent document {p}", "category": category, "source_shard": "s", "source_line": i}
            for i, p in enumerate(parents)]
    with PartitionWriter(lake.stage_dir("scored", category), DOC_SCHEMA) as out:
        out.write(pa.Table.from_pylist(base, schema=DOC_SCHEMA))
    schema = output_schema(DOC_SCHEMA)
    with PartitionWriter(lake.stage_dir("rewritten", category), schema) as out:
        out.write(pa.Table.from_pylist(base + synthetic_rows, schema=schema))
    return lake


def synthetic_row(category, parent="p0", style="distill", bucket="high", **changes):
    template = load_templates(CONFIG.prompts_dir, [style])[style]
    prov = {"parent_id": parent, "style": style, "template": style, "template_sha256": template.file_sha256,
            "prompt_sha256": template.digest, "model": "m", "model_revision": "r", "backend": "transformers",
            "sampling": {"temperature": 0.7}, "attempts": [1], "bucket": bucket, "param_version": "v"}
    prov.update(changes.pop("prov", {}))
    row = {"id": f"{parent}~{style}", "text": "a rewrite", "category": category, "source_shard": "s", "source_line": 0,
           "parent_id": parent, "style": style, "model": "m",
           "mixture_slice": f"{category}-synthetic-{style}-{bucket}", "rewrite_provenance": json.dumps(prov)}
    return {**row, **changes}


def test_valid_synthetic_documents_pass_and_bad_ones_fail(home):
    lake = write(home, "notes", [synthetic_row("notes")])
    synthetic = synthetic_frame(lake, "notes")
    assert gx_synthetic_check(lake, "notes", synthetic).passed
    assert provenance_check("notes", synthetic, CONFIG).passed
    bad = write(home, "bad", [synthetic_row("bad", parent="ghost"), synthetic_row("bad", parent="p1",
                                                                                  mixture_slice="bad-distill")])
    assert not gx_synthetic_check(bad, "bad", synthetic_frame(bad, "bad")).passed  # orphan parent, bad slice name


def test_provenance_with_a_stale_template_hash_or_missing_fields_fails(home):
    rows = [synthetic_row("prov", prov={"template_sha256": "0" * 64}),
            synthetic_row("prov", parent="p1", prov={"backend": None} | {}, rewrite_provenance="{}")]
    lake = write(home, "prov", rows)
    result = provenance_check("prov", synthetic_frame(lake, "prov"), CONFIG)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    problems = result.metadata["problems"].value
    assert "hash does not match" in problems and "provenance lacks" in problems


def test_no_synthetic_documents_is_a_warning_not_a_pass(home):
    lake = write(home, "empty", [])
    for result in (gx_synthetic_check(lake, "empty", synthetic_frame(lake, "empty")),
                   provenance_check("empty", synthetic_frame(lake, "empty"), CONFIG)):
        assert result.passed is False and result.severity == dg.AssetCheckSeverity.WARN
        assert "no synthetic documents" in result.metadata["cannot_judge"].value


def stats(n, failed):
    return {"jobs_attempted": n, "jobs_failed_validation": failed,
            "validation_failures_by_reason": {"unfaithful_numbers": failed}}


def test_drop_rate_is_judged_by_its_interval_even_on_a_small_demo():
    failing = drop_rate_check(stats(4, 4), BAND)  # 4 of 4 rejected: the interval's low end 0.51 > 0.5
    assert failing.passed is False and failing.severity == dg.AssetCheckSeverity.ERROR
    assert "dropped 4/4 = 1.000" in failing.description and "band [0.0, 0.5]" in failing.description
    unsure = drop_rate_check(stats(4, 3), BAND)  # 3 of 4: above the band, but 4 jobs cannot show it
    assert unsure.passed is False and unsure.severity == dg.AssetCheckSeverity.WARN
    assert drop_rate_check(stats(40, 30), BAND).passed is False
    assert drop_rate_check(stats(10, 2), BAND).passed is True
    nothing = drop_rate_check(stats(0, 0), BAND)
    assert nothing.passed is False and nothing.severity == dg.AssetCheckSeverity.WARN


def test_wilson_interval_matches_the_textbook_values():
    low, high = wilson_interval(4, 4)
    assert round(low, 3) == 0.510 and high == 1.0
    low, high = wilson_interval(5, 10)
    assert round(low, 3) == 0.237 and round(high, 3) == 0.763
