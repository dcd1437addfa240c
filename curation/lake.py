"""Where every stage's data lives under ``CORPUSFORGE_HOME``, and how it is written safely.

Layout (DESIGN.md, data contract)::

    $HOME/landing/<category>/<shard>        input shards (jsonl, jsonl.gz, jsonl.zst, parquet)
    $HOME/lake/<stage>/<category>/*.parquet  documents kept by a stage
    $HOME/lake/drops/<stage>/<category>/*.parquet  what a stage removed, and why
    $HOME/state/...                          indexes and manifests a stage keeps between runs
    $HOME/catalog.duckdb                     stats, lineage views, eval table

Every write is a temp file in the target directory followed by ``os.replace``, so a reader
never sees a half-written parquet file and a crash leaves the previous version intact.
"""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import pyarrow as pa
import pyarrow.parquet as pq

from curation.document import DROP_SCHEMA, validate_category

DEFAULT_HOME = ".corpusforge"


def home_from_env() -> Path:
    return Path(os.environ.get("CORPUSFORGE_HOME", DEFAULT_HOME)).resolve()


@dataclass(frozen=True)
class Lake:
    home: Path

    @classmethod
    def from_env(cls) -> "Lake":
        return cls(home_from_env())

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def catalog_path(self) -> Path:
        return self.home / "catalog.duckdb"

    def stage_dir(self, stage: str, category: str | None = None) -> Path:
        base = self.home / "lake" / stage
        return base / validate_category(category) if category is not None else base

    def drops_dir(self, stage: str, category: str) -> Path:
        return self.home / "lake" / "drops" / stage / validate_category(category)

    def state_dir(self, *parts: str) -> Path:
        path = self.home.joinpath("state", *parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def landing_categories(self) -> list[str]:
        """Category folders in landing, names unchecked (callers validate and report)."""
        if not self.landing.is_dir():
            return []
        return sorted(p.name for p in self.landing.iterdir() if p.is_dir())

    def stage_categories(self, stage: str) -> list[str]:
        """Categories a stage has written (hidden staging directories of running writers excluded)."""
        root = self.stage_dir(stage)
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def files(self, stage: str, category: str) -> list[Path]:
        d = self.stage_dir(stage, category)
        return sorted(d.glob("*.parquet")) if d.is_dir() else []

    def iter_batches(
        self, stage: str, category: str, batch_size: int = 2048, columns: list[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Stream a stage's documents for one category; memory is bounded by ``batch_size``."""
        for path in self.files(stage, category):
            pf = pq.ParquetFile(path)
            yield from pf.iter_batches(batch_size=batch_size, columns=columns)

    def read(self, stage: str, category: str, columns: list[str] | None = None) -> pa.Table | None:
        """Whole table for small stages (tests, mixtures of a few thousand rows)."""
        files = self.files(stage, category)
        if not files:
            return None
        return pa.concat_tables(pq.read_table(f, columns=columns) for f in files)

    def read_schema(self, stage: str, category: str) -> pa.Schema:
        """The schema a stage wrote for a category (what the next stage extends)."""
        files = self.files(stage, category)
        if not files:
            raise FileNotFoundError(f"no {stage!r} output for category {category!r} under {self.home}: "
                                    f"materialize that stage for this partition first")
        return pq.read_schema(files[0])

    def count(self, stage: str, category: str) -> int:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files(stage, category))


def write_parquet_atomic(path: Path, table: pa.Table) -> Path:
    """Write ``table`` to ``path`` via a temp file + rename in the same directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; lake files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def replace_dir(staging: Path, target: Path) -> Path:
    """Swap a fully written ``staging`` directory in as ``target`` (two renames, no partial state)."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


class PartitionWriter:
    """Streams record batches of one output partition, then swaps it in atomically.

    Batches go to parquet files in a hidden staging directory; ``commit`` replaces the
    whole partition directory at once, so a re-run never mixes old and new files and
    memory holds one batch at a time.
    """

    def __init__(self, target_dir: Path, schema: pa.Schema, rows_per_file: int = 50_000):
        self.target_dir = target_dir
        self.schema = schema
        self.rows_per_file = rows_per_file
        target_dir.parent.mkdir(parents=True, exist_ok=True)
        self._staging = target_dir.parent / f".{target_dir.name}.staging-{uuid.uuid4().hex[:8]}"
        self._staging.mkdir()
        self._writer: pq.ParquetWriter | None = None
        self._file_rows = 0
        self._file_index = 0
        self.rows = 0

    def _roll(self) -> None:
        if self._writer is not None:
            self._writer.close()
        path = self._staging / f"part-{self._file_index:05d}.parquet"
        self._file_index += 1
        self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self._file_rows = 0

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        if data.num_rows == 0:
            return
        if self._writer is None or self._file_rows >= self.rows_per_file:
            self._roll()
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        self._writer.write_table(table.select(self.schema.names).cast(self.schema))
        self._file_rows += data.num_rows
        self.rows += data.num_rows

    def write_all(self, tables: Iterable[pa.Table | pa.RecordBatch]) -> None:
        for t in tables:
            self.write(t)

    def commit(self) -> Path:
        if self._writer is not None:
            self._writer.close()
        if self._file_index == 0:  # an empty partition is still a valid, readable output
            pq.write_table(self.schema.empty_table(), self._staging / "part-00000.parquet")
        return replace_dir(self._staging, self.target_dir)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        shutil.rmtree(self._staging, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


@contextmanager
def stage_writers(lake: Lake, stage: str, category: str, schema: pa.Schema) -> Iterator[
        tuple[PartitionWriter, PartitionWriter]]:
    """The kept-documents and drop-record writers of one stage partition: both are swapped in
    on success, both discarded on error, so documents and their drop records never disagree."""
    out = PartitionWriter(lake.stage_dir(stage, category), schema)
    drops = PartitionWriter(lake.drops_dir(stage, category), DROP_SCHEMA)
    try:
        yield out, drops
    except BaseException:
        out.abort()
        drops.abort()
        raise
    out.commit()
    drops.commit()
