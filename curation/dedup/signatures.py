"""Step 1 of dedup, the per-document part: normalise, shingle, MinHash, band keys; per shard, cached.

``SignatureMapper`` is a pure, row-preserving function of a batch of (id, text): either engine runs it
(curation/compute), so local and Ray give the same columns. ``signature_tables`` streams a partition's
signature rows in input order. Over shard files it keeps each file's signatures in
``state/deduped/signatures/<category>/<sha256 of the file>.<index_version>.parquet``, written atomically when the
file's last row is done: that file is the shard's completion marker. A re-run of the category, or a run
resumed after a kill, reads the signatures of every shard already done and hashes only the others.
"""

import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.compute import BatchMapper, Engine, LocalEngine, ParquetFiles
from curation.dedup.config import DedupConfig
from curation.dedup.minhash import band_keys, signatures
from curation.dedup.normalize import normalize_batch
from curation.dedup.shingles import shingle_batch
from curation.dedup.spill import text_slices
from curation.hashing import file_sha256
from curation.lake import iter_parquet

_SLICE_BYTES = 1 << 20
TIMERS = ("t_normalise", "t_shingle", "t_signature")


def signature_schema(config: DedupConfig, bands: int) -> pa.Schema:
    return pa.schema([
        ("doc_id", pa.string()), ("empty", pa.bool_()), ("n_chars", pa.int64()), ("n_bytes", pa.int64()),
        ("exact_hash", pa.binary(16)), ("sig", pa.binary(4 * config.num_perm)), ("keys", pa.binary(8 * bands)),
        ("n_shingles", pa.int64()), ("char_mode", pa.bool_()), ("capped", pa.bool_()),
        # seconds the batch spent in each step, carried by its first row (0 elsewhere): a sum gives the total
        *((t, pa.float64()) for t in TIMERS),
    ])


def _slices(table: pa.Table) -> Iterator[pa.Table]:
    """The batch cut to ~_SLICE_BYTES of text: the numpy temporaries (several int64 per character) then stay
    in cache-friendly, reused memory instead of hundreds of MB per batch."""
    return text_slices(table, _SLICE_BYTES)


class SignatureMapper(BatchMapper):
    """(id, text) rows -> one signature row each (``signature_schema``); empty texts get ``empty`` and nulls."""

    def __init__(self, config: DedupConfig, bands: int, rows: int):
        self.config, self.bands, self.rows = config, bands, rows

    def __call__(self, table: pa.Table) -> pa.Table:
        for col in ("id", "text"):
            if col not in table.column_names:
                raise ValueError(f"dedup input batch has no {col!r} column (columns: {table.column_names})")
        schema = signature_schema(self.config, self.bands)
        parts = [self._slice(s, schema) for s in _slices(table)] if table.num_rows else []
        return pa.concat_tables(parts) if parts else schema.empty_table()

    def _slice(self, table: pa.Table, schema: pa.Schema) -> pa.Table:
        config, n = self.config, table.num_rows
        texts = ["" if t is None else t for t in table.column("text").to_pylist()]
        t0 = time.perf_counter()
        norm = normalize_batch(texts, config)
        t1 = time.perf_counter()
        keep = np.flatnonzero(~norm.empty)
        sig = np.zeros((n, config.num_perm), dtype=np.uint32)
        keys = np.zeros((n, self.bands), dtype=np.uint64)
        n_shingles = np.zeros(n, dtype=np.int64)
        char_mode = np.zeros(n, dtype=bool)
        capped = np.zeros(n, dtype=bool)
        t2 = t1
        if len(keep):
            sh = shingle_batch(norm.near_cps, norm.near_lengths, config)
            t2 = time.perf_counter()
            sig[keep] = signatures(sh.hashes, sh.offsets, config)
            keys[keep] = band_keys(sig[keep], self.bands, self.rows)
            n_shingles[keep], char_mode[keep], capped[keep] = np.diff(sh.offsets), sh.char_mode, sh.capped
        t3 = time.perf_counter()
        valid = pa.array(~norm.empty)

        def fixed(values: np.ndarray, type_: pa.DataType) -> pa.Array:
            arr = pa.FixedSizeBinaryArray.from_buffers(type_, n, [None, pa.py_buffer(np.ascontiguousarray(values))])
            return pc.if_else(valid, arr, pa.scalar(None, type_))

        timers = [np.zeros(n) for _ in TIMERS]
        for arr, seconds in zip(timers, (t1 - t0, t2 - t1, t3 - t2)):
            arr[0] = seconds
        return pa.table([
            table.column("id"), pa.array(norm.empty), pa.array(norm.exact_lengths),
            pa.array([len(t.encode("utf-8", "surrogatepass")) for t in texts], pa.int64()),
            pa.array([h or None for h in norm.exact_hashes], pa.binary(16)),
            fixed(sig, schema.field("sig").type), fixed(keys, schema.field("keys").type),
            pa.array(n_shingles), pa.array(char_mode), pa.array(capped), *map(pa.array, timers),
        ], schema=schema)


def cache_dir(state_dir: Path, category: str) -> Path:
    return state_dir / "signatures" / category


def signature_tables(source: ParquetFiles | Iterable[pa.RecordBatch], mapper: SignatureMapper,
                     engine: Engine | None, cache: Path | None, stats: dict) -> Iterator[pa.Table]:
    """Signature rows of the whole input, in input order. Shard files hit the per-file cache (``cache``)
    first; only the files without a completed signature file go through the engine. Counts
    ``docs_signed`` (hashed in this run) and ``docs_from_cache`` in ``stats``."""
    engine = engine or LocalEngine()
    stats.setdefault("docs_signed", 0)
    stats.setdefault("docs_from_cache", 0)
    stats.setdefault("shards_from_cache", 0)
    if not isinstance(source, ParquetFiles):
        mapper.setup()
        for batch in source:
            if batch.num_rows:
                table = mapper(pa.Table.from_batches([batch]))
                stats["docs_signed"] += table.num_rows
                yield table
        return
    if cache is None:
        raise ValueError("signature_tables over shard files needs a cache directory")
    cache.mkdir(parents=True, exist_ok=True)
    for leftover in cache.glob(".*.tmp"):  # a killed run's unfinished file (its shard is not done)
        leftover.unlink(missing_ok=True)
    version = mapper.config.index_version
    # content-addressed: a renamed or re-ingested but unchanged shard keeps its signatures
    targets = [cache / f"{file_sha256(p)[:32]}.{version}.parquet" for p in source.paths]
    todo = [i for i, t in enumerate(targets) if not t.exists()]
    fresh = engine.map_files(ParquetFiles.of([source.paths[i] for i in todo], ("id", "text")), mapper)
    position = {i: j for j, i in enumerate(todo)}
    schema = signature_schema(mapper.config, mapper.bands)
    for i, (path, target) in enumerate(zip(source.paths, targets)):
        if target.exists():
            stats["shards_from_cache"] += 1
            for batch in iter_parquet(target):
                stats["docs_from_cache"] += batch.num_rows
                yield pa.Table.from_batches([batch])
            continue
        expected, done = pq.ParquetFile(path).metadata.num_rows, 0
        j = position[i]
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=cache)
        os.close(fd)
        try:
            with pq.ParquetWriter(tmp, schema, compression="lz4") as writer:
                while done < expected:
                    k, table = next(fresh, (None, None))
                    if k != j:
                        raise RuntimeError(f"signatures of {path} ended after {done} of {expected} rows")
                    writer.write_table(table)
                    done += table.num_rows
                    stats["docs_signed"] += table.num_rows
                    yield table
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)  # the shard is done: a resumed run starts after it
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    stats["signature_cache_files"] = [t.name for t in targets]


def prune_cache(cache: Path, keep: Iterable[str]) -> int:
    """Remove signature files of shards no longer in the partition (after a successful run)."""
    keep = set(keep)
    removed = 0
    if cache.is_dir():
        for f in cache.glob("*.parquet"):
            if f.name not in keep:
                f.unlink(missing_ok=True)
                removed += 1
    return removed
