"""Answer "why was document X dropped?" across every stage, straight from the drop records.

Each stage writes DROP_SCHEMA rows under ``lake/drops/<stage>/<category>/``; DuckDB reads
them all in place (parquet stays the source of truth, nothing is copied into the catalog).
"""

import duckdb

from curation.lake import Lake


def drops_glob(lake: Lake) -> str:
    return str(lake.home / "lake" / "drops" / "**" / "*.parquet")


def find_drops(lake: Lake, doc_id: str) -> list[dict]:
    """Every drop record for ``doc_id`` (a document can be dropped by one stage only, but a
    synthetic child may be dropped by a later one), oldest stage first."""
    if not any((lake.home / "lake" / "drops").rglob("*.parquet")):
        return []
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT * FROM read_parquet('{drops_glob(lake)}', union_by_name = true) WHERE doc_id = ? ORDER BY stage",
            [doc_id],
        )
        names = [d[0] for d in rows.description]
        return [dict(zip(names, r)) for r in rows.fetchall()]
    finally:
        con.close()


def drop_summary(lake: Lake) -> list[tuple]:
    """(stage, category, reason, count) over the whole lake, for a quick look."""
    if not any((lake.home / "lake" / "drops").rglob("*.parquet")):
        return []
    con = duckdb.connect()
    try:
        return con.execute(
            f"SELECT stage, category, reason, count(*) AS n FROM read_parquet('{drops_glob(lake)}', "
            "union_by_name = true) GROUP BY ALL ORDER BY stage, category, n DESC"
        ).fetchall()
    finally:
        con.close()
