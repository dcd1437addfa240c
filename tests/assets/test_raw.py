import json

import dagster as dg
import pyarrow.parquet as pq
import pytest

from assets.partitions import category_partitions
from assets.raw import raw_corpus
from curation.lake import Lake
from curation.lineage import explain_removal
from resources.compute import ComputeResource
from resources.configs import PipelineConfigs
from resources.lake import LakeResource
from tests.conftest import EN_DOCS, ZH_DOCS, write_jsonl


def materialize_raw(home, category, raise_on_error=True):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(category_partitions.name, [category])
    return dg.materialize(
        [raw_corpus], instance=instance, partition_key=category,
        resources={"lake": LakeResource(home=str(home)), "configs": PipelineConfigs(), "compute": ComputeResource()},
        raise_on_error=raise_on_error,
    )


def test_raw_materializes_jsonl_gz_and_parquet(home):
    import pyarrow as pa

    write_jsonl(home / "landing/en/a.jsonl", [{"id": f"en-{i}", "text": t, "url": "x"} for i, t in enumerate(EN_DOCS)])
    write_jsonl(home / "landing/en/b.jsonl.gz", [{"text": t} for t in ZH_DOCS])
    pq.write_table(pa.table({"text": ["parquet doc one", "parquet doc two"]}), home / "landing/en/c.parquet")

    result = materialize_raw(home, "en")
    assert result.success
    table = Lake(home).read("raw", "en")
    assert table.num_rows == 7
    ids = table.column("id").to_pylist()
    assert {"en-0", "en-1", "en-2"} <= set(ids) and len(set(ids)) == 7
    by_id = {r["id"]: r for r in table.to_pylist()}
    assert json.loads(by_id["en-0"]["meta"]) == {"url": "x"}
    mat = result.asset_materializations_for_node("corpus__raw")[0]
    assert mat.metadata["dagster/row_count"].value == 7
    assert mat.metadata["shards"].value == 3
    checks = result.get_asset_check_evaluations()
    assert {c.check_name: c.passed for c in checks} == {
        "schema_matches_contract": True, "gx_documents_valid": True, "skipped_ratio_bounded": True}


def test_every_kind_of_bad_line_is_skipped_and_counted(home):
    good = [{"id": f"ok-{i}", "text": "A real document about the standard library."} for i in range(200)]
    raw = [
        b"{not json\n",  # malformed_json
        b'{"text": "caf\xe9 latin-1 bytes"}\n',  # invalid_utf8
        b'{"title": "no text field"}\n',  # missing_text
        b'{"text": "   "}\n',  # empty_text
        b'{"text": 42}\n',  # text_not_string
        b'["an", "array"]\n',  # not_an_object
        b'{"text": "' + b"x" * (9 * 1024 * 1024) + b'"}\n',  # record_too_large
    ]
    write_jsonl(home / "landing/bad/s.jsonl", good, raw)
    (home / "landing/bad/broken.jsonl.gz").write_bytes(b"\x1f\x8b not really gzip")

    result = materialize_raw(home, "bad")
    assert result.success  # a bad line never crashes the partition
    mat = result.asset_materializations_for_node("corpus__raw")[0]
    assert mat.metadata["dagster/row_count"].value == 200
    md = mat.metadata["skipped_by_reason"].value
    for reason in ("malformed_json", "invalid_utf8", "missing_text", "empty_text", "text_not_string",
                   "not_an_object", "record_too_large"):
        assert reason in md
    # the broken gzip yields no document: its loss is counted in bytes, the whole file
    assert mat.metadata["lost_bytes"].value == len(b"\x1f\x8b not really gzip")
    assert "corrupt_stream" in mat.metadata["lost_bytes_by_reason"].value
    drop_rows = pq.read_table(home / "lake/drops/raw/bad").to_pylist()
    where = {(d["reason"], d["doc_id"]) for d in drop_rows}
    assert ("malformed_json", "s.jsonl:201") in where
    assert ("record_too_large", "s.jsonl:207") in where
    why = explain_removal(Lake(home), "s.jsonl:201")  # what `corpusforge why` prints
    assert why["stage"] == "raw" and why["reason"] == "malformed_json" and "Expecting" in why["detail"]


def test_too_many_skips_fail_the_blocking_check(home):
    write_jsonl(home / "landing/junk/s.jsonl", [{"text": "fine"}], [b"{broken\n"] * 5)
    result = materialize_raw(home, "junk", raise_on_error=False)
    assert not result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["skipped_ratio_bounded"].passed is False


def test_duplicate_given_ids_fail_the_gx_check(home):
    write_jsonl(home / "landing/dup/s.jsonl", [{"id": "same", "text": t} for t in EN_DOCS])
    result = materialize_raw(home, "dup", raise_on_error=False)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["gx_documents_valid"].passed is False


def test_rematerializing_is_idempotent_and_incremental(home):
    shard = write_jsonl(home / "landing/en/a.jsonl", [{"text": t} for t in EN_DOCS])
    materialize_raw(home, "en")
    first = Lake(home).read("raw", "en").sort_by("id")

    again = materialize_raw(home, "en")
    meta = again.asset_materializations_for_node("corpus__raw")[0].metadata
    assert meta["shards_read_this_run"].value == 0
    assert Lake(home).read("raw", "en").sort_by("id").equals(first)

    write_jsonl(shard, [{"text": t} for t in EN_DOCS[:2]])  # a changed shard replaces its rows
    changed = materialize_raw(home, "en")
    assert changed.asset_materializations_for_node("corpus__raw")[0].metadata["shards_read_this_run"].value == 1
    assert Lake(home).count("raw", "en") == 2


def test_bad_category_name_is_refused(home):
    write_jsonl(home / "landing/bad name/a.jsonl", [{"text": "x"}])
    with pytest.raises(Exception, match=r"\[A-Za-z0-9_.-\]\+"):
        materialize_raw(home, "bad name")
