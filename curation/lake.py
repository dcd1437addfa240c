"""Where every stage's data lives under ``CORPUSFORGE_HOME``, and how it is written safely.

Layout (DESIGN.md, data contract)::

    $HOME/landing/<category>/<shard>        input shards (jsonl, jsonl.gz, jsonl.zst, parquet)
    $HOME/lake/<stage>/<category>/*.parquet  documents kept by a stage
    $HOME/lake/drops/<stage>/<category>/*.parquet  what a stage removed, and why
    $HOME/state/...                          indexes and manifests a stage keeps between runs
    $HOME/state/locks/<stage>/<category>.lock one run per partition at a time
    $HOME/state/<stage>/work/<category>/      a running partition's scratch (removed by its next run)
    $HOME/models/                            packaged LMs, quality models, checkpoints
    $HOME/catalog.duckdb                     stats, the drop ledger, lineage views, eval table

Every path under ``CORPUSFORGE_HOME`` is computed here (and ``home_from_env`` is the only reader
of the variable). Every write is a temp file in the target directory followed by ``os.replace``,
so a reader never sees a half-written parquet file and a crash leaves the previous version
intact; the leftovers of a killed run are removed by the next run of the same partition, which
is the only run that can tell they are stale (it holds the partition's lock).
"""

import os
import re
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

from curation.document import DROP_SCHEMA, category_problem, validate_category
from curation.locks import exclusive_lock

DEFAULT_HOME = ".corpusforge"
DROPS = "drops"  # lake/drops/<stage>/<category>: not a stage of its own
# How long a run waits for another run of the same partition (the sensor and the schedule can
# both launch one) before it gives up with a clear message; a whole-category dedup takes minutes.
PARTITION_LOCK_TIMEOUT_S = 3600.0


def home_from_env() -> Path:
    """The data root: ``$CORPUSFORGE_HOME``, else ``./.corpusforge`` (the only reader of the variable)."""
    return Path(os.environ.get("CORPUSFORGE_HOME", DEFAULT_HOME)).resolve()


class PartitionBusyError(TimeoutError):
    """Another run is writing the same stage partition and did not finish in time."""


BATCH_ROWS = 2048  # rows per streamed batch (ComputeConfig.batch_size's default): what the stages' models see


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

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    def quality_model_dir(self, name: str) -> Path:
        return self.models_dir / "quality" / name

    def checkpoints_dir(self) -> Path:
        return self.models_dir / "checkpoints"

    def ablation_dir(self) -> Path:
        return self.models_dir / "ablation"

    def task_scores_dir(self) -> Path:
        """Downstream task scores per (model weights, task config): a model is scored once."""
        return self.models_dir / "task_scores"

    def mixture_dir(self) -> Path:
        return self.home / "lake" / "mixed"

    def landing_dir(self, category: str) -> Path:
        return self.landing / validate_category(category)

    def stage_dir(self, stage: str, category: str | None = None) -> Path:
        base = self.home / "lake" / stage
        return base / validate_category(category) if category is not None else base

    def drops_dir(self, stage: str, category: str) -> Path:
        return self.home / "lake" / "drops" / stage / validate_category(category)

    def state_dir(self, *parts: str) -> Path:
        path = self.home.joinpath("state", *parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def work_dir(self, stage: str, category: str) -> Path:
        """Scratch space of one partition's run (its next run removes what a killed run left)."""
        path = self.state_dir(stage, "work", validate_category(category))
        return path

    def landing_categories(self) -> list[str]:
        """Category folders in landing that are categories (``document.category_problem``: dot-folders
        and names outside the rule are not; ``refused_landing_folders`` says why)."""
        return [name for name in self._landing_folders() if category_problem(name) is None]

    def refused_landing_folders(self) -> list[tuple[str, str]]:
        """(folder, reason) for every landing folder that is not a category, to report to the user."""
        return [(name, problem) for name in self._landing_folders() if (problem := category_problem(name))]

    def _landing_folders(self) -> list[str]:
        if not self.landing.is_dir():
            return []
        return sorted(p.name for p in self.landing.iterdir() if p.is_dir())

    def stage_names(self) -> list[str]:
        """Stages with output in the lake (folders under ``lake/``, drops excluded)."""
        root = self.home / "lake"
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != DROPS and category_problem(p.name) is None)

    def drop_stages(self) -> list[str]:
        root = self.home / "lake" / DROPS
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    def drop_files(self, stage: str, category: str) -> list[Path]:
        d = self.drops_dir(stage, category)
        return sorted(d.glob("*.parquet")) if d.is_dir() else []

    def drop_categories(self, stage: str) -> list[str]:
        """Categories with drop records of ``stage`` (staging directories of running writers excluded)."""
        root = self.home / "lake" / DROPS / stage
        return sorted(p.name for p in root.iterdir() if p.is_dir() and category_problem(p.name) is None) \
            if root.is_dir() else []

    def all_drop_files(self) -> list[Path]:
        """Every committed drop file of every stage and category."""
        return [f for stage in self.drop_stages() for c in self.drop_categories(stage) for f in self.drop_files(stage, c)]

    def document_files(self) -> list[Path]:
        """Every committed file of documents (``id`` and ``text`` columns) of every stage and category: what
        lineage reads texts from (the mixture's sample lists, keyed by ``doc_id``, are not documents)."""
        files = [f for stage in self.stage_names() for c in self.stage_categories(stage) for f in self.files(stage, c)]
        return [f for f in files if {"id", "text"} <= set(pq.read_schema(f).names)]

    @contextmanager
    def partition_lock(self, stage: str, category: str, timeout_s: float = PARTITION_LOCK_TIMEOUT_S) -> Iterator[None]:
        """One run of a stage partition at a time, across processes (``fcntl.flock``): a second run
        waits for the first, or gives up after ``timeout_s`` with a ``PartitionBusyError`` that says so."""
        path = self.state_dir("locks", stage) / f"{validate_category(category)}.lock"
        try:
            with exclusive_lock(path, timeout_s, f"partition {stage}/{category}"):
                yield
        except TimeoutError as exc:
            if isinstance(exc, PartitionBusyError) or "stayed locked" not in str(exc):
                raise
            raise PartitionBusyError(
                f"{stage}/{category} is being written by another run ({exc}); runs of one partition are "
                f"serialized and this one gave up waiting after {timeout_s:.0f}s: re-run it when the other has "
                "finished") from None

    def remove_stale_leftovers(self, stage: str, category: str) -> list[str]:
        """Delete what killed runs of this partition left behind (staging and old-version folders
        beside the partition and its drops, hidden temp files inside them, the scratch work folder).
        Call only while holding ``partition_lock``: then nothing of this partition is in flight."""
        validate_category(category)
        removed = []
        beside = re.compile(rf"^\.{re.escape(category)}\.(staging|old)-[0-9a-f]{{8}}$")
        legacy_work = re.compile(rf"^work-{re.escape(category)}-[a-z0-9_]{{8}}$")  # before work_dir existed
        for parent, pattern in ((self.stage_dir(stage), beside), (self.home / "lake" / DROPS / stage, beside),
                                (self.home / "state" / stage, legacy_work)):
            if parent.is_dir():
                for entry in parent.iterdir():
                    if pattern.match(entry.name):
                        removed.append(_remove(entry))
        for folder in (self.stage_dir(stage, category), self.drops_dir(stage, category),
                       self.home / "state" / stage / category):
            if folder.is_dir():
                removed += [_remove(f) for f in folder.glob(".*.tmp")]
        work = self.home / "state" / stage / "work" / category
        if work.is_dir():
            removed += [_remove(entry) for entry in work.iterdir()]
        return removed

    def stage_categories(self, stage: str) -> list[str]:
        """Categories a stage has written (hidden staging directories of running writers excluded)."""
        root = self.stage_dir(stage)
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and category_problem(p.name) is None)

    def files(self, stage: str, category: str) -> list[Path]:
        d = self.stage_dir(stage, category)
        return sorted(d.glob("*.parquet")) if d.is_dir() else []

    def iter_batches(
        self, stage: str, category: str, batch_size: int = BATCH_ROWS, columns: list[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Stream a stage's documents for one category; memory is bounded by ``batch_size``."""
        for path in self.files(stage, category):
            yield from iter_parquet(path, batch_size=batch_size, columns=columns)

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


def _remove(path: Path) -> str:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    return str(path)


def iter_parquet(path: str | Path, **options) -> Iterator[pa.RecordBatch]:
    """``ParquetFile.iter_batches(**options)`` with memory bounded by a row group. Arrow's pre-buffering (on by
    default) keeps every row group it has read until the file is done, so a stream holds the file's compressed
    bytes: 364 MB peak for a 50k-row file of source code (263 MB), 115 MB without it (measured)."""
    yield from pq.ParquetFile(path, pre_buffer=False).iter_batches(**options)


def write_parquet(table: pa.Table, path: str | Path) -> None:
    """``pq.write_table``, except that an empty table is written with no row group at all: a file
    holding one 0-row row group makes HF ``datasets`` fail ("BatchSize must be greater than 0")."""
    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        if table.num_rows:
            writer.write_table(table)


def write_parquet_atomic(path: Path, table: pa.Table) -> Path:
    """Write ``table`` to ``path`` via a temp file + rename in the same directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write_parquet(table, tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; lake files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temp file + rename in the same directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
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
        self.target_dir = Path(target_dir)
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
        if self._file_index == 0:  # an empty partition is still a valid, readable output (no row group)
            write_parquet(self.schema.empty_table(), self._staging / "part-00000.parquet")
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
def stage_writers(lake: Lake, stage: str, category: str, schema: pa.Schema,
                  lock_timeout_s: float = PARTITION_LOCK_TIMEOUT_S) -> Iterator[tuple[PartitionWriter, PartitionWriter]]:
    """The kept-documents and drop-record writers of one stage partition: both are swapped in
    on success, both discarded on error, so documents and their drop records never disagree.

    The partition is held under its lock for the whole run (a second run of it waits, or is
    refused after ``lock_timeout_s``), a killed run's leftovers are removed first (listed in
    ``out.stale_leftovers_removed``), and the committed drops are indexed in the catalog, the
    ledger ``corpusforge why`` reads."""
    with lake.partition_lock(stage, category, lock_timeout_s):
        stale = lake.remove_stale_leftovers(stage, category)
        out = PartitionWriter(lake.stage_dir(stage, category), schema)
        drops = PartitionWriter(lake.drops_dir(stage, category), DROP_SCHEMA)
        out.stale_leftovers_removed = stale
        try:
            yield out, drops
        except BaseException:
            out.abort()
            drops.abort()
            raise
        out.commit()
        drops.commit()
        index_drops(lake, stage, category)


def index_drops(lake: Lake, stage: str, category: str) -> None:
    """Refresh the catalog's drop-ledger rows of one partition from its drop files (the source of truth)."""
    from curation.catalog import Catalog  # the catalog builds on the lake, not the other way round

    catalog = Catalog(lake.catalog_path)
    catalog.index_drops(stage, category, lake.drop_files(stage, category))
    catalog.refresh_documents_view(lake.document_files())
