"""The two engines behind one interface: ``map_files`` (a row-preserving batch function over shard files,
streamed back in file and row order) and ``map_items`` (one function call per item, results in item order).

``LocalEngine`` is today's in-process path. ``RayEngine`` runs ``map_files`` as a Ray Data pipeline (tasks
over runs of a few batches of one shard file, each reading its rows and mapping them batch by batch, order
preserved, blocks in flight bounded by the object store) and ``map_items`` as Ray tasks, at most one per CPU in
flight. Both call the very same ``BatchMapper`` on the very same batches (``batch_size`` rows from each file's
start, as ``ParquetFile.iter_batches`` cuts them), so their output is identical even for a mapper whose numbers
depend on the batch (a model that embeds a batch at a time); the engine checks that rows come back in order and as
many as went in, and raises rather than return a reordered result.
"""

import copyreg
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.compute.config import ComputeConfig
from curation.hashing import short_digest
from curation.lake import iter_parquet
from curation.lm.generation import BackendSpec, LLMBackend


# Frozen configs hold read-only mappings (MappingProxyType), which pickle cannot serialise by default; Ray ships
# mappers (and their configs) to workers by pickle, so teach it: a read-only view of a plain dict copy.
def _read_only(mapping: dict) -> MappingProxyType:
    return MappingProxyType(mapping)


copyreg.pickle(MappingProxyType, lambda m: (_read_only, (dict(m),)))

_PATH = "_cf_source_path"  # each row's shard file, while it travels through a Ray Data pipeline
_START, _STOP = "_cf_start", "_cf_stop"  # the rows [start, stop) of the file one Ray task maps
# Batches one Ray task reads and maps: small enough to spread a file over the workers, large enough that a
# task's scheduling (milliseconds) is noise beside its batches.
BATCHES_PER_TASK = 4
_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the curation package


@dataclass(frozen=True)
class ParquetFiles:
    """Shard files of one stage partition, read in this order (the rows' order is the files' order)."""

    paths: tuple[Path, ...]
    columns: tuple[str, ...] | None = None

    @classmethod
    def of(cls, paths: Sequence[Path], columns: Sequence[str] | None = None) -> "ParquetFiles":
        return cls(tuple(Path(p) for p in paths), tuple(columns) if columns is not None else None)

    def iter_batches(self, batch_size: int = 2048) -> Iterator[pa.RecordBatch]:
        for path in self.paths:
            yield from iter_parquet(path, batch_size=batch_size, columns=self._columns)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self.iter_batches()

    @property
    def _columns(self) -> list[str] | None:
        return list(self.columns) if self.columns is not None else None


class BatchMapper:
    """A picklable, row-preserving function over an Arrow table: output row i is about input row i.

    ``setup`` runs once per process before the first call (load models there, not in ``__init__``, so the
    mapper pickles small): with Ray, once per worker process, which then maps many batches. Stages keep their
    filtering on the driver, which sees every row's verdict."""

    def setup(self) -> None:
        pass

    def __call__(self, table: pa.Table) -> pa.Table:
        raise NotImplementedError


class Engine:
    name = "engine"

    def map_files(self, source: ParquetFiles, mapper: BatchMapper, batch_size: int | None = None,
                  ) -> Iterator[tuple[int, pa.Table]]:
        """(index of the file in ``source.paths``, mapped rows of that file), in file then row order; a file's
        rows may come in several tables, an empty file yields nothing."""
        raise NotImplementedError

    def map_items(self, fn: Callable, items: Sequence, **kwargs) -> Iterator:
        """``fn(item, **kwargs)`` for each item, results in item order (``fn`` must be importable)."""
        raise NotImplementedError

    @contextmanager
    def generation(self, spec: BackendSpec) -> Iterator[LLMBackend]:
        """An LLM backend for one stage: in this process here; on the engine's workers with Ray."""
        yield spec.open()

    @property
    def cpus(self) -> int:
        return 1

    def describe(self) -> dict:
        return {"engine": self.name, "cpus": self.cpus}

    def close(self) -> None:
        pass


class LocalEngine(Engine):
    """Everything in this process, one batch at a time (memory bounded by a batch)."""

    name = "local"

    def __init__(self, config: ComputeConfig | None = None):
        self.config = config or ComputeConfig()

    def map_files(self, source, mapper, batch_size=None):
        mapper.setup()
        size = batch_size or self.config.batch_size
        for i, path in enumerate(source.paths):
            for batch in iter_parquet(path, batch_size=size, columns=source._columns):
                table = pa.Table.from_batches([batch])
                yield i, _checked(mapper(table), table.num_rows)

    def map_items(self, fn, items, **kwargs):
        for item in items:
            yield fn(item, **kwargs)

    @property
    def cpus(self) -> int:
        return os.cpu_count() or 1


# Mappers already set up in this (worker) process, by the digest of their pickle: a worker runs many tasks of
# one pipeline and loads a mapper's models once. Bounded: a long-lived worker serves many pipelines.
_MAPPERS: dict[str, BatchMapper] = {}
_MAPPERS_MAX = 8


def _ready(mapper: BatchMapper, key: str) -> BatchMapper:
    ready = _MAPPERS.get(key)
    if ready is None:
        if len(_MAPPERS) >= _MAPPERS_MAX:
            _MAPPERS.clear()
        mapper.setup()
        ready = _MAPPERS[key] = mapper
    return ready


def _row_ranges(path: str, batch_size: int, per_task: int) -> list[tuple[int, int]]:
    """[start, stop) row ranges of ``per_task`` batches each, starting at multiples of ``batch_size``."""
    n = pq.ParquetFile(path).metadata.num_rows
    step = batch_size * per_task
    return [(start, min(start + step, n)) for start in range(0, n, step)]


def _read_rows(path: str, columns: list[str] | None, start: int, stop: int, batch_size: int) -> Iterator[pa.Table]:
    """Rows [start, stop) of a parquet file in ``batch_size``-row tables cut at ``start`` + multiples of
    ``batch_size`` (``start`` is a multiple: the batches ``iter_batches`` gives for the whole file); only the row
    groups holding those rows are read."""
    pf = pq.ParquetFile(path, pre_buffer=False)  # see iter_parquet
    groups, first, offset = [], None, 0
    for g in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        if offset < stop and offset + n > start:
            groups.append(g)
            first = offset if first is None else first
        offset += n
    if not groups:
        return
    position, held, n_held = first, [], 0
    for batch in pf.iter_batches(batch_size=batch_size, row_groups=groups, columns=columns):
        lo, hi = max(start - position, 0), min(stop - position, batch.num_rows)
        position += batch.num_rows
        if hi > lo:
            held.append(batch.slice(lo, hi - lo))
            n_held += hi - lo
        while n_held >= batch_size:
            table = pa.Table.from_batches(held).combine_chunks()
            yield table.slice(0, batch_size)
            rest = table.slice(batch_size)
            held, n_held = rest.to_batches(), rest.num_rows
        if position >= stop:
            break
    if n_held:
        yield pa.Table.from_batches(held).combine_chunks()


def _map_rows(item: pa.Table, columns: list[str] | None, batch_size: int, mapper: BatchMapper,
              key: str) -> Iterator[pa.Table]:
    """A Ray Data stage: read a run of batches of one shard file and map each, tagged with the file's path."""
    ready = _ready(mapper, key)
    for path, start, stop in zip(*(item.column(c).to_pylist() for c in (_PATH, _START, _STOP))):
        for table in _read_rows(path, columns, start, stop, batch_size):
            out = _checked(ready(table), table.num_rows)
            yield out.append_column(_PATH, pa.array([path] * out.num_rows, pa.string()))


def _checked(out: pa.Table, n_in: int) -> pa.Table:
    if out.num_rows != n_in:
        raise RuntimeError(f"a batch mapper must keep its rows (filter on the driver): {n_in} rows in, "
                           f"{out.num_rows} out")
    return out


def _call(item, fn, kwargs):
    return fn(item, **kwargs)


class RayEngine(Engine):
    """Ray Data / Ray tasks on an existing cluster (``address``) or on a local Ray started here."""

    name = "ray"

    def __init__(self, config: ComputeConfig):
        self.config = config
        self._started = False

    def start(self) -> "RayEngine":
        try:
            import ray
            import ray.data
        except ImportError as exc:
            raise RuntimeError("compute engine 'ray' needs Ray: pip install '.[ray]' (ray[data]==2.60.0)") from exc
        if not ray.is_initialized():
            if self.config.address:
                ray.init(address=self.config.address, configure_logging=False)
            else:
                # the workers import curation from the same tree as this process (a source checkout too)
                before = os.environ.get("PYTHONPATH")
                os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), before) if p)
                try:
                    ray.init(num_cpus=self.config.num_cpus, object_store_memory=self.config.object_store_memory_mb
                             * 2**20, include_dashboard=False, configure_logging=False)
                finally:
                    if before is None:
                        os.environ.pop("PYTHONPATH", None)
                    else:
                        os.environ["PYTHONPATH"] = before
            self._started = True
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # output order = input order: identical to local
        ctx.enable_progress_bars = False
        return self

    @property
    def cpus(self) -> int:
        import ray

        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def describe(self) -> dict:
        import ray

        resources = ray.cluster_resources()
        return {"engine": self.name, "address": self.config.address or "local Ray", "cpus": self.cpus,
                "object_store_mb": round(resources.get("object_store_memory", 0) / 2**20),
                "nodes": len([n for n in ray.nodes() if n.get("Alive")])}

    def map_files(self, source, mapper, batch_size=None):
        import ray.data

        if not source.paths:
            return
        paths = [str(Path(p).resolve()) for p in source.paths]
        names = pq.read_schema(paths[0]).names
        if _PATH in names:
            raise ValueError(f"{paths[0]} has a column named {_PATH!r}, which the Ray engine uses for the file "
                             "path: rename it (or run with engine local)")
        index = {p: i for i, p in enumerate(paths)}
        key = short_digest(pickle.dumps(mapper).hex(), 8)
        size = batch_size or self.config.batch_size
        # A task per run of BATCHES_PER_TASK batches of a file, reading its rows and mapping them batch by batch
        # (Ray Data's own read_parquet costs seconds of planning per pipeline on a small machine, and its
        # map_batches would cut batches across files): the mapper sees LocalEngine's batches, spread over workers.
        units = [{_PATH: p, _START: a, _STOP: b} for p in paths for a, b in _row_ranges(p, size, BATCHES_PER_TASK)]
        if not units:
            return
        ds = ray.data.from_items(units, override_num_blocks=len(units))
        ds = ds.map_batches(_map_rows, batch_size=1, batch_format="pyarrow",
                            fn_kwargs={"columns": source._columns, "batch_size": size, "mapper": mapper, "key": key})
        last = -1
        for table in ds.iter_batches(batch_format="pyarrow", batch_size=None, prefetch_batches=1):
            if table.num_rows == 0:
                continue
            files = np.array([index[p] for p in table.column(_PATH).to_pylist()])
            starts = np.flatnonzero(np.diff(files, prepend=-1))
            for s, e in zip(starts, [*starts[1:], len(files)]):
                i = int(files[s])
                if i < last:
                    raise RuntimeError(f"Ray returned rows of {paths[i]} after rows of {paths[last]}: order lost")
                last = i
                yield i, table.slice(int(s), int(e - s)).drop_columns([_PATH])

    def map_items(self, fn, items, **kwargs):
        import ray

        remote = ray.remote(num_cpus=1, max_retries=0)(_call)
        window = max(1, self.cpus)
        pending: deque = deque()
        for item in items:
            pending.append(remote.remote(item, fn, kwargs))
            if len(pending) >= window:
                yield ray.get(pending.popleft())
        while pending:
            yield ray.get(pending.popleft())

    @contextmanager
    def generation(self, spec):
        from curation.compute.generation import RayGenerationBackend

        backend = RayGenerationBackend(spec, self.config.generation_workers)
        try:
            yield backend
        finally:
            backend.close()

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


@contextmanager
def open_engine(config: ComputeConfig) -> Iterator[Engine]:
    """The engine ``config`` names, started; a local Ray started here is stopped on exit."""
    engine: Engine = LocalEngine(config) if config.engine == "local" else RayEngine(config).start()
    try:
        yield engine
    finally:
        engine.close()
