"""The LSH band-key join split into P hash partitions of the band key, each joined on its own.

Two documents can only be candidates if they share a (band, key); ``key % P`` sends every copy of a key to
the same partition, so joining each partition separately finds exactly the pairs of the single join (a pair
sharing keys in several partitions is found more than once and made distinct afterwards). The driver writes
the partition's live band keys and the index's band keys into ``P`` parquet folders with one streaming DuckDB
``COPY ... PARTITION_BY``; each partition's join is one ``join_partition`` call, run by the engine (in this
process one after another with ``local``, as Ray tasks with ``ray``), holding only 1/P of the keys; the
candidate pairs come back as parquet files, which the stage verifies on the full signatures as before.
"""

from pathlib import Path

import duckdb

from curation.compute import Engine
from curation.sql import sql_string

_ROW = "_dedup_row"
NO_NEW = "SELECT NULL::BIGINT AS a, NULL::BIGINT AS b WHERE false"
NO_IDX = "SELECT NULL::BIGINT AS a, NULL::VARCHAR AS b WHERE false"


def _files(folder: Path) -> list[str]:
    return sorted(str(f) for f in folder.glob("*.parquet")) if folder.is_dir() else []


def join_partition(part: int, workdir: str, window: int, memory_limit: str, threads: int) -> dict:
    """Candidate pairs of one hash partition: new x new within ``window`` bucket ranks, new x index."""
    root = Path(workdir)
    live = _files(root / "live" / f"part={part}")
    index = _files(root / "index" / f"part={part}")
    out = {"part": part, "new_file": None, "idx_file": None, "live_keys": 0, "index_keys": 0}
    if not live:
        return out
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = {sql_string(memory_limit)}")
        con.execute(f"SET temp_directory = {sql_string(root / f'tmp-{part}')}")
        con.execute(f"SET threads = {int(threads)}")
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"CREATE TEMP VIEW live AS SELECT * FROM read_parquet({_list(live)})")
        out["live_keys"] = con.execute("SELECT count(*) FROM live").fetchone()[0]
        new_file = root / "cand" / f"new-{part}.parquet"
        new_file.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"""COPY (SELECT DISTINCT x.{_ROW} AS a, y.{_ROW} AS b FROM live x JOIN live y
                    ON x.band = y.band AND x.key = y.key AND y.rn > x.rn AND y.rn <= x.rn + {int(window)})
                    TO {sql_string(new_file)} (FORMAT parquet)""")
        out["new_file"] = str(new_file)
        if index:
            con.execute(f"CREATE TEMP VIEW idx AS SELECT * FROM read_parquet({_list(index)})")
            out["index_keys"] = con.execute("SELECT count(*) FROM idx").fetchone()[0]
            idx_file = root / "cand" / f"idx-{part}.parquet"
            con.execute(f"""COPY (SELECT DISTINCT l.{_ROW} AS a, i.doc_id AS b FROM live l JOIN idx i
                        ON l.band = i.band AND l.key = i.key) TO {sql_string(idx_file)} (FORMAT parquet)""")
            out["idx_file"] = str(idx_file)
    finally:
        con.close()
    return out


def _list(files: list[str]) -> str:
    return "[" + ", ".join(sql_string(f) for f in files) + "]"


def partitioned_candidates(con: "duckdb.DuckDBPyConnection", engine: Engine, parts: int, workdir: Path, window: int,
                           memory_limit: str) -> tuple[str, str, dict]:
    """(SQL of distinct new x new candidate pairs, SQL of new x index pairs, stats) from ``parts`` separate
    joins. ``con`` has the temp table ``live_bands`` and the index table ``bands``."""
    root = Path(workdir) / "bandjoin"
    root.mkdir(parents=True, exist_ok=True)
    con.execute(f"""COPY (SELECT band, key, {_ROW}, rn, (key % {parts})::INTEGER AS part FROM live_bands)
                TO {sql_string(root / 'live')} (FORMAT parquet, PARTITION_BY (part))""")
    con.execute(f"""COPY (SELECT band, key, doc_id, (key % {parts})::INTEGER AS part FROM bands)
                TO {sql_string(root / 'index')} (FORMAT parquet, PARTITION_BY (part))""")
    threads = 1 if engine.name == "ray" else max(1, engine.cpus)
    results = list(engine.map_items(join_partition, range(parts), workdir=str(root), window=window,
                                    memory_limit=memory_limit, threads=threads))
    new_files = [r["new_file"] for r in results if r["new_file"]]
    idx_files = [r["idx_file"] for r in results if r["idx_file"]]
    new_sql = f"SELECT DISTINCT a, b FROM read_parquet({_list(new_files)})" if new_files else NO_NEW
    idx_sql = f"SELECT DISTINCT a, b FROM read_parquet({_list(idx_files)})" if idx_files else NO_IDX
    keys = [r["live_keys"] + r["index_keys"] for r in results]
    stats = {"partitions": parts, "engine": engine.name, "keys_per_partition_max": max(keys, default=0),
             "keys_total": sum(keys)}
    return new_sql, idx_sql, stats
