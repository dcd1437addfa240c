import multiprocessing as mp

from curation.catalog import Catalog


def _write_stats(path, category, n):
    catalog = Catalog(path)
    for i in range(n):
        catalog.record_stage_stats("raw", category, i, i, {"i": i})


def test_parallel_processes_never_collide_on_the_catalog(tmp_path):
    path = tmp_path / "catalog.duckdb"
    ctx = mp.get_context("spawn")  # like Dagster's multiprocess executor: separate interpreters
    procs = [ctx.Process(target=_write_stats, args=(path, f"c{k}", 15)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    rows = Catalog(path).query("SELECT category, count(*) FROM stage_stats GROUP BY category ORDER BY category")
    assert rows == [("c0", 15), ("c1", 15), ("c2", 15)]
