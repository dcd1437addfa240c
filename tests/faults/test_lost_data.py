"""Issue 15.1-15.2 and the bad lines handled before: each fault costs what it damages, counted in documents
(or bytes where documents cannot be counted), and the user is told file, line and reason."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curation.document import SkipCounter
from curation.lake import Lake
from curation.lineage import explain_removal
from curation.readers import read_shard
from tests.faults.conftest import doc_lines, materialize_raw, raw_outcome

GOOD = doc_lines(50)


def read(path, name=None):
    skips = SkipCounter()
    kept = [r for b in read_shard(path, "c", name or path.name, skips) for r in b.to_pylist()]
    return kept, skips


# (bad line, reason): every kind of bad line costs exactly that line (one document) and says where.
BAD_LINES = [
    (b"{not json\n", "malformed_json"),
    (b'{"text": "caf\xe9 latin-1 bytes"}\n', "invalid_utf8"),
    (b'{"title": "no text field"}\n', "missing_text"),
    (b'{"text": "   "}\n', "empty_text"),
    (b'{"text": 42}\n', "text_not_string"),
    (b'["an", "array"]\n', "not_an_object"),
    (b'{"text": "' + b"x" * (9 * 1024 * 1024) + b'"}\n', "record_too_large"),
    (b'{"text": "a \\ud800 b"}\n', "lone_surrogate"),  # 15.1: a lone surrogate in text ...
    (b'{"id": "x\\udc00", "text": "fine"}\n', "lone_surrogate"),  # ... or in the id
    (b'{"text": "fine", "tags": {"note": "\\ud83d"}}\n', "lone_surrogate"),  # ... or in other fields
    (b"[" * 100_000 + b"\n", "json_too_deep"),  # 15.1: RecursionError in the parser
    (b'{"text": "x", "n": ' + b"9" * 5000 + b"}\n", "malformed_json"),  # 15.2: a 5,000-digit integer
]


@pytest.mark.parametrize(("bad", "reason"), BAD_LINES, ids=[r for _, r in BAD_LINES])
def test_a_bad_line_costs_one_document_and_names_its_line(tmp_path, bad, reason):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(GOOD[:20]) + bad + b"".join(GOOD[20:]))
    kept, skips = read(path)
    assert [r["id"] for r in kept] == [f"d{i}" for i in range(50)]  # everything before and after is kept
    assert skips.counts == {reason: 1} and skips.lost_bytes == {}
    assert (skips.examples[0]["file"], skips.examples[0]["line"]) == ("s.jsonl", 21)


def test_a_valid_surrogate_pair_is_kept(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"id": "e", "text": "emoji \\ud83d\\ude00 ok"}\n')
    kept, skips = read(path)
    assert kept[0]["text"] == "emoji \U0001f600 ok" and skips.total == 0


def test_truncated_gzip_keeps_every_line_before_the_cut_and_is_flagged(tmp_path):
    data = gzip.compress(b"".join(doc_lines(1000)))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    kept, skips = read(path)
    assert 400 < len(kept) < 1000
    assert [r["id"] for r in kept] == [f"d{i}" for i in range(len(kept))]
    assert skips.counts == {"truncated_record": 1}  # the record the cut went through
    assert [u["reason"] for u in skips.unbounded] == ["truncated_file"]
    assert f"after line {len(kept) + 1}" in skips.unbounded[0]["detail"]


def test_small_truncated_zstd_is_not_silently_empty(tmp_path):
    data = zstandard.ZstdCompressor().compress(b"".join(doc_lines(30)))
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(data[:-8])
    kept, skips = read(path)
    assert kept == []  # a zstd block is all or nothing ...
    assert [u["reason"] for u in skips.unbounded] == ["truncated_file"]  # ... and the loss is reported


def test_damaged_gzip_member_costs_its_bytes_and_the_next_member_is_read(tmp_path):
    first = bytearray(gzip.compress(b"".join(doc_lines(300, "a"))))
    first[len(first) // 2: len(first) // 2 + 64] = b"\0" * 64
    path = tmp_path / "multi.jsonl.gz"
    path.write_bytes(bytes(first) + gzip.compress(b"".join(doc_lines(300, "b"))))
    kept, skips = read(path)
    assert [r["id"] for r in kept if r["id"].startswith("b")] == [f"b{i}" for i in range(300)]
    assert 0 < skips.lost_bytes["corrupt_stream"] <= len(first)
    assert "decoding resumed at the next gzip member" in next(e for e in skips.examples
                                                              if e["reason"] == "corrupt_stream")["detail"]


def _parquet_with_corrupt_row_group(path, rows=5000, group=1000, damaged=2):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"text": [f"row {i} of a parquet shard" for i in range(rows)]}), path,
                   row_group_size=group, compression="none")
    raw = bytearray(path.read_bytes())
    offset = pq.ParquetFile(path).metadata.row_group(damaged).column(0).data_page_offset
    raw[offset + 8: offset + 400] = b"\xff" * 392
    path.write_bytes(bytes(raw))


def test_corrupt_parquet_row_group_costs_its_rows_not_the_file(tmp_path):
    path = tmp_path / "c.parquet"
    _parquet_with_corrupt_row_group(path)
    kept, skips = read(path)
    assert len(kept) == 4000
    assert skips.counts == {"corrupt_row_group": 1000}
    assert skips.examples[0]["line"] == 2001 and "rows 2001-3000" in skips.examples[0]["detail"]


def test_parquet_with_unreadable_footer_costs_its_bytes(tmp_path):
    path = tmp_path / "c.parquet"
    _parquet_with_corrupt_row_group(path)
    path.write_bytes(path.read_bytes()[:-20])
    kept, skips = read(path)
    assert kept == [] and skips.lost_bytes == {"unreadable_file": path.stat().st_size}


def test_parquet_without_text_column_costs_its_rows(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"body": ["a", "b", "c"]}), path)
    kept, skips = read(path)
    assert kept == [] and skips.counts == {"missing_text": 3}


# ---- what the raw asset counts, checks and tells -------------------------------------------------


def test_lost_documents_fail_the_raw_check_with_the_numbers(tmp_path):
    _parquet_with_corrupt_row_group(tmp_path / "landing/pq/c.parquet")
    meta, checks = raw_outcome(materialize_raw(tmp_path, "pq"))
    assert meta["dagster/row_count"] == 4000 and meta["lost_documents"] == 1000
    check = checks["skipped_ratio_bounded"]
    assert check.passed is False
    assert check.description.startswith("failed: lost 1000 of 5000 documents (0.2 > 0.05)")
    why = explain_removal(Lake(tmp_path), "c.parquet:2001")  # `corpusforge why` answers for the lost rows
    assert why["reason"] == "corrupt_row_group" and "1000 documents lost" in why["detail"]


def test_lost_bytes_fail_the_raw_check_when_documents_cannot_be_counted(tmp_path):
    (tmp_path / "landing/gz").mkdir(parents=True)
    (tmp_path / "landing/gz/good.jsonl").write_bytes(b"".join(doc_lines(200)))
    (tmp_path / "landing/gz/broken.jsonl.gz").write_bytes(b"\x1f\x8b\x08" + b"\x00garbage" * 3000)
    meta, checks = raw_outcome(materialize_raw(tmp_path, "gz"))
    assert meta["dagster/row_count"] == 200 and meta["lost_documents"] == 0
    assert meta["lost_bytes"] == 3 + 8 * 3000
    check = checks["skipped_ratio_bounded"]
    assert check.passed is False and "input bytes" in check.description and "corrupt_stream" in check.description


def test_a_truncated_file_fails_the_raw_check_even_when_little_is_lost(tmp_path):
    (tmp_path / "landing/cut").mkdir(parents=True)
    (tmp_path / "landing/cut/good.jsonl").write_bytes(b"".join(doc_lines(2000, "g")))
    data = gzip.compress(b"".join(doc_lines(1000)))
    (tmp_path / "landing/cut/part.jsonl.gz").write_bytes(data[: len(data) // 2])
    meta, checks = raw_outcome(materialize_raw(tmp_path, "cut"))
    assert meta["lost_documents"] == 1 and meta["lost_documents_ratio"] < 0.05
    check = checks["skipped_ratio_bounded"]
    assert check.passed is False and "part.jsonl.gz is truncated" in check.description
    assert "part.jsonl.gz" in meta["truncated_files"]


def test_a_few_bad_lines_pass_the_raw_check_and_are_listed(tmp_path):
    (tmp_path / "landing/ok").mkdir(parents=True)
    (tmp_path / "landing/ok/s.jsonl").write_bytes(b"".join(GOOD) + b"{oops\n" + b"[" * 100_000 + b"\n")
    meta, checks = raw_outcome(materialize_raw(tmp_path, "ok"))
    assert meta["dagster/row_count"] == 50 and meta["lost_documents"] == 2
    assert checks["skipped_ratio_bounded"].passed is True
    assert "| malformed_json | s.jsonl | 51 |" in meta["skipped_examples"]
    assert "| json_too_deep | s.jsonl | 52 |" in meta["skipped_examples"]
    assert json.loads(Lake(tmp_path).read("raw", "ok").column("meta")[0].as_py() or "{}") == {}


def test_an_empty_category_is_a_warning_not_a_pass(tmp_path):
    (tmp_path / "landing/none").mkdir(parents=True)
    _, checks = raw_outcome(materialize_raw(tmp_path, "none"))
    check = checks["skipped_ratio_bounded"]
    assert check.passed is False and check.severity.value == "WARN" and "cannot judge: no shard in landing" in check.description


def test_the_runs_own_checks_yaml_sets_the_lost_data_bound(tmp_path):
    """Checks read checks.yaml from the run's PipelineConfigs, not the repository's copy."""
    import shutil

    import yaml

    from resources.configs import REPO_CONFIGS, PipelineConfigs

    home = tmp_path / "home"
    shard = home / "landing/strict/a.jsonl"
    shard.parent.mkdir(parents=True)
    shard.write_bytes(b"".join(doc_lines(99)) + b"{broken\n")  # 1 of 100 lost
    _, default_checks = raw_outcome(materialize_raw(home, "strict"))
    assert default_checks["skipped_ratio_bounded"].passed  # 0.01 is inside the shipped bound

    own = tmp_path / "configs"
    shutil.copytree(REPO_CONFIGS, own)
    thresholds = yaml.safe_load((own / "checks.yaml").read_text())
    thresholds["raw"]["max_skipped_ratio"] = 0.001
    (own / "checks.yaml").write_text(yaml.safe_dump(thresholds))
    _, strict_checks = raw_outcome(materialize_raw(home, "strict", configs=PipelineConfigs(directory=str(own))))
    check = strict_checks["skipped_ratio_bounded"]
    assert not check.passed and "lost 1 of 100 documents (0.01 > 0.001)" in check.metadata["failed"].value
