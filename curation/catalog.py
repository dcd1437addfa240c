"""The embedded DuckDB catalog: per-stage stats, lineage of drops, the eval table.

DuckDB allows one writing process per database file, and Dagster runs partitions in
parallel processes, so every connection is taken under an exclusive ``fcntl`` lock on a
sidecar file: writers queue instead of failing with "could not set lock". Parquet stays
the source of truth for documents; the catalog exposes it through views.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from curation.locks import exclusive_lock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stage_stats (
    stage VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    run_id VARCHAR,
    recorded_at TIMESTAMP DEFAULT current_timestamp,
    docs_in BIGINT,
    docs_out BIGINT,
    stats JSON
);
CREATE TABLE IF NOT EXISTS eval_table (
    run_id VARCHAR,
    model VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    value DOUBLE,
    n_docs BIGINT,
    n_tokens BIGINT,
    recorded_at TIMESTAMP DEFAULT current_timestamp
);
-- one row per model x curriculum stage x metric x category/task, with the items it rests on
ALTER TABLE eval_table ADD COLUMN IF NOT EXISTS stage VARCHAR;
ALTER TABLE eval_table ADD COLUMN IF NOT EXISTS n_items BIGINT;
"""


class Catalog:
    def __init__(self, path: Path, lock_timeout_s: float = 600.0):
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection held under the catalog's process lock (readers too: DuckDB refuses
        a reader while another process holds the file for writing)."""
        with exclusive_lock(self.path.with_suffix(".lock"), self.lock_timeout_s, f"catalog {self.path}"):
            con = duckdb.connect(str(self.path), read_only=read_only and self.path.exists())
            try:
                if not read_only:
                    con.execute(_SCHEMA)
                yield con
            finally:
                con.close()

    def record_stage_stats(
        self, stage: str, category: str, docs_in: int, docs_out: int, stats: dict, run_id: str | None = None
    ) -> None:
        with self.connect() as con:
            con.execute(
                "INSERT INTO stage_stats (stage, category, run_id, docs_in, docs_out, stats) VALUES (?, ?, ?, ?, ?, ?)",
                [stage, category, run_id, docs_in, docs_out, json.dumps(stats, default=str)],
            )

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with self.connect() as con:
            return con.execute(sql, params or []).fetchall()
