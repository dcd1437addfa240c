"""The embedded DuckDB catalog: per-stage stats, the drop ledger with its lineage views, the eval table.

DuckDB allows one writing process per database file, and Dagster runs partitions in
parallel processes, so every connection is taken under an exclusive ``fcntl`` lock on a
sidecar file: writers queue instead of failing with "could not set lock". Parquet stays
the source of truth for documents and drops; the catalog indexes them:

- ``drop_ledger`` (table): every drop record of every stage partition, refreshed from the
  partition's drop files each time a stage commits them (``lake.stage_writers``, the raw ingest);
  ``corpusforge why <id>`` answers from it without reading the lake's drop files.
- ``documents`` (view): id, text, category, stage of every committed stage output file, over
  the parquet files themselves (refreshed with the ledger).
- ``removals`` (view): each drop beside the text of the removed document and of what it
  duplicated: the lineage ``why`` prints.
- ``drops_by_reason`` (view): counts per stage, category and reason.

Paths reach SQL as bound parameters, or, in view definitions (which cannot take parameters),
as quoted string literals, so a home path holding ``'`` works.
"""

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from curation.locks import exclusive_lock
from curation.sql import sql_string

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
CREATE TABLE IF NOT EXISTS drop_ledger (
    doc_id VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    duplicate_of VARCHAR,
    similarity DOUBLE,
    detail VARCHAR,
    param_version VARCHAR,
    drop_file VARCHAR NOT NULL
);
CREATE OR REPLACE VIEW drops_by_reason AS
    SELECT stage, category, reason, count(*) AS docs FROM drop_ledger GROUP BY ALL;
-- one row per model x curriculum stage x metric x category/task, with the items it rests on
ALTER TABLE eval_table ADD COLUMN IF NOT EXISTS stage VARCHAR;
ALTER TABLE eval_table ADD COLUMN IF NOT EXISTS n_items BIGINT;
"""
_DROP_COLUMNS = "doc_id, category, stage, reason, duplicate_of, similarity, detail, param_version"
_EMPTY_DOCUMENTS = "SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS text, NULL::VARCHAR AS category, " \
                   "NULL::VARCHAR AS stage WHERE false"


class Catalog:
    def __init__(self, path: Path, lock_timeout_s: float = 600.0):
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator["duckdb.DuckDBPyConnection"]:
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

    def index_drops(self, stage: str, category: str, files: Sequence[Path]) -> int:
        """Replace the ledger rows of one stage partition with what its drop files hold; returns the row count."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM drop_ledger WHERE stage = ? AND category = ?", [stage, category])
            if files:
                con.execute(f"INSERT INTO drop_ledger SELECT {_DROP_COLUMNS}, filename FROM "
                            "read_parquet(?, union_by_name = true, filename = true)", [[str(f) for f in files]])
            n = con.execute("SELECT count(*) FROM drop_ledger WHERE stage = ? AND category = ?",
                            [stage, category]).fetchone()[0]
            con.execute("COMMIT")
        return n

    def refresh_documents_view(self, document_files: Sequence[Path]) -> None:
        """Point the ``documents`` and ``removals`` views at the lake's current stage outputs."""
        files = [str(f) for f in document_files]
        if files:
            listed = "[" + ", ".join(sql_string(f) for f in files) + "]"
            documents = ("SELECT id, text, category, regexp_extract(filename, '/lake/([^/]+)/[^/]+/[^/]+$', 1) AS stage "
                         f"FROM read_parquet({listed}, union_by_name = true, filename = true)")
        else:
            documents = _EMPTY_DOCUMENTS
        with self.connect() as con:
            con.execute(f"CREATE OR REPLACE VIEW documents AS {documents}")
            con.execute(f"""CREATE OR REPLACE VIEW removals AS
                SELECT d.{_DROP_COLUMNS.replace(', ', ', d.')},
                       (SELECT any_value(text) FROM documents WHERE id = d.doc_id) AS text,
                       (SELECT any_value(text) FROM documents WHERE id = d.duplicate_of) AS duplicate_text
                FROM drop_ledger d""")

    def drops_of(self, doc_id: str) -> list[dict]:
        """Every ledger row for ``doc_id`` (usually one), ordered by stage then reason."""
        return self._dicts(f"SELECT {_DROP_COLUMNS} FROM drop_ledger WHERE doc_id = ? ORDER BY stage, reason",
                           [doc_id])

    def drops_where(self, where: str, params: list, limit: int | None = None) -> list[dict]:
        sql = f"SELECT {_DROP_COLUMNS} FROM drop_ledger WHERE {where} ORDER BY reason, doc_id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._dicts(sql, params)

    def texts(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """Texts of the given ids from the ``documents`` view (any stage that still holds them)."""
        ids = sorted({d for d in doc_ids if d})
        if not ids:
            return {}
        with self.connect() as con:
            if not con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'documents'").fetchone()[0]:
                return {}
            rows = con.execute("SELECT id, any_value(text) FROM documents WHERE id IN (SELECT unnest(?)) GROUP BY id",
                               [ids]).fetchall()
        return dict(rows)

    def _dicts(self, sql: str, params: list) -> list[dict]:
        with self.connect() as con:
            cur = con.execute(sql, params)
            names = [c[0] for c in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]
