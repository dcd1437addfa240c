"""Issue 15.5, 15.6 and 15.9: the same partition run twice at once, leftovers of killed runs, a home
path that SQL would misread."""

import multiprocessing as mp

from curation.ingest import ingest_category
from curation.lake import Lake
from tests.curation.dedup.helpers import paragraph, run
from tests.faults.conftest import doc_lines


def _ingest(home, category, out):
    out.put(ingest_category(Lake(home), category).docs_total)


def test_the_same_partition_run_twice_at_once_serialises_and_both_succeed(tmp_path):
    home = tmp_path / "home"
    shard = home / "landing/twice/a.jsonl"
    shard.parent.mkdir(parents=True)
    shard.write_bytes(b"".join(doc_lines(300)))
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_ingest, args=(home, "twice", out)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]  # neither crashed on the other's temp files
    assert sorted(out.get(timeout=5) for _ in procs) == [300, 300]
    assert Lake(home).read("raw", "twice").num_rows == 300  # written once, not twice or half


def test_leftovers_of_a_killed_run_are_removed_by_the_next_run_of_that_partition(tmp_path):
    home = tmp_path / "home"
    lake = Lake(home)
    shard = home / "landing/killed/a.jsonl"
    shard.parent.mkdir(parents=True)
    shard.write_bytes(b"".join(doc_lines(20)))
    ingest_category(lake, "killed")
    # what kill -9 leaves mid-write: a staging folder beside the partition, a temp file inside it,
    # scratch files in its work folder; another partition's staging folder must survive
    staging = lake.stage_dir("raw") / ".killed.staging-0123abcd"
    staging.mkdir()
    (staging / "part-00000.parquet").write_bytes(b"x" * 4096)
    temp = lake.stage_dir("raw", "killed") / ".part.parquet.1a2b.tmp"
    temp.write_bytes(b"partial")
    scratch = lake.work_dir("raw", "killed") / "spill.parquet"
    scratch.write_bytes(b"spill")
    other = lake.stage_dir("raw") / ".alive.staging-89abcdef"
    other.mkdir()
    shard.write_bytes(b"".join(doc_lines(21)))  # changed: the next run rewrites the partition
    result = ingest_category(lake, "killed")
    assert not staging.exists() and not temp.exists() and not scratch.exists()
    assert other.exists()
    assert {str(staging), str(temp), str(scratch)} <= set(result.stale_leftovers_removed)
    assert lake.read("raw", "killed").num_rows == 21


def test_a_home_path_with_a_quote_works_for_the_dedup_index_and_the_catalog(tmp_path):
    lake = Lake(tmp_path / "o'brien's corpus")
    run(lake, "web", [("w1", paragraph("assert")), ("w2", paragraph("del"))])
    stats, kept, drops = run(lake, "books", [("b1", paragraph("assert")), ("b2", paragraph("pass"))])
    assert kept == ["b2"] and drops["b1"]["duplicate_of"] == "w1"  # found through the index under that path
    assert stats["index_docs_before"] == 2
    from curation.catalog import Catalog

    catalog = Catalog(lake.catalog_path)
    catalog.record_stage_stats("deduped", "books", 2, 1, {"drops_by_reason": {"near_duplicate": 1}})
    assert catalog.query("SELECT docs_in, docs_out FROM stage_stats WHERE category = 'books'") == [(2, 1)]
