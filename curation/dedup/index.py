"""The global, incremental dedup index: kept documents' exact hashes, signatures and LSH band keys, the
hashes of their paragraphs (paragraphs.py) and, for categories with semantic dedup, their embeddings with
their k-means cluster (semantic.py).

Lives in ``state/deduped/index.duckdb``. One partition's update (retire its category's old entries, match
against every other category, insert its survivors) runs in one DuckDB transaction under an exclusive
``fcntl`` lock, so partitions of different categories can run in parallel processes and still see each
other's survivors: the second to take the lock deduplicates against the first. Matching is a DuckDB join
between the partition's spilled parquet and the index tables, under a memory limit with spilling to disk,
so memory stays bounded as the index grows.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from curation.locks import exclusive_lock
from curation.sql import sql_string

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS docs (
    doc_id VARCHAR NOT NULL, category VARCHAR NOT NULL, exact_hash BLOB NOT NULL,
    n_chars BIGINT NOT NULL, sig BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS bands (band SMALLINT NOT NULL, key UBIGINT NOT NULL, doc_id VARCHAR NOT NULL,
    category VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS paragraphs (hash UBIGINT NOT NULL, doc_id VARCHAR NOT NULL, category VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS sem_centroids (cluster INTEGER NOT NULL, vec BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sem_vectors (doc_id VARCHAR NOT NULL, category VARCHAR NOT NULL, cluster INTEGER NOT NULL,
    vec BLOB NOT NULL);
"""


class IndexVersionError(RuntimeError):
    """The index was built with signature parameters other than the current config's."""


class DedupIndex:
    def __init__(self, state_dir: Path, lock_timeout_s: float = 3600.0):
        self.dir = Path(state_dir)
        self.path = self.dir / "index.duckdb"
        self.lock_timeout_s = lock_timeout_s

    def _locked(self):
        return exclusive_lock(self.dir / "index.lock", self.lock_timeout_s, f"dedup index {self.path}")

    @contextmanager
    def update(self, index_version: str, memory_limit: str = "1GB") -> Iterator["duckdb.DuckDBPyConnection"]:
        """A connection inside one transaction under the index lock; commits on success, rolls back on error."""
        with self._locked():
            con = duckdb.connect(str(self.path))
            try:
                con.execute(f"SET memory_limit = {sql_string(memory_limit)}")
                con.execute(f"SET temp_directory = {sql_string(self.dir / 'duckdb_tmp')}")
                con.execute("SET preserve_insertion_order = false")
                con.execute(_SCHEMA)
                self._check_version(con, index_version)
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            finally:
                con.close()

    @contextmanager
    def read(self) -> Iterator["duckdb.DuckDBPyConnection | None"]:
        """A read connection under the lock (None if no index exists yet)."""
        with self._locked():
            if not self.path.exists():
                yield None
                return
            con = duckdb.connect(str(self.path), read_only=True)
            try:
                yield con
            finally:
                con.close()

    @staticmethod
    def _check_version(con: "duckdb.DuckDBPyConnection", index_version: str) -> None:
        row = con.execute("SELECT value FROM meta WHERE key = 'index_version'").fetchone()
        if row is None:
            con.execute("INSERT INTO meta VALUES ('index_version', ?)", [index_version])
        elif row[0] != index_version:
            raise IndexVersionError(
                f"dedup index {con.execute('PRAGMA database_list').fetchone()[2]} was built with {row[0]}, the "
                f"config gives {index_version} (num_perm, ngram, threshold, seed or normalisation changed): "
                "signatures are not comparable. Delete the index and re-materialise every category."
            )

    def size(self) -> dict:
        with self.read() as con:
            if con is None:
                return {"docs": 0, "bands": 0, "bytes": 0}
            docs = con.execute("SELECT count(*) FROM docs").fetchone()[0]
            bands = con.execute("SELECT count(*) FROM bands").fetchone()[0]
            tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            extra = {name: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                     for name, table in (("paragraphs", "paragraphs"), ("embeddings", "sem_vectors"))
                     if table in tables}
        return {"docs": docs, "bands": bands, **extra, "bytes": self.path.stat().st_size}
