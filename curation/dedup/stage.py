"""The deduplication stage: exact, then MinHash-LSH near-duplicate, then (optionally) semantic.

``dedup_partition`` runs in four steps; only step 2 holds the global index lock:

1. signatures (no lock, the expensive part): stream the input batches, normalise, hash, compute MinHash
   signatures and band keys for the whole batch in numpy; spill input, signatures and bands to parquet in a
   work directory, so memory is bounded by a batch.
2. match (index lock, one DuckDB transaction): retire this category's own previous index entries (so a
   re-run gives the same result), find exact duplicates (within the partition and against every kept
   document of every category), find LSH candidate pairs with a band-key join, verify each pair's
   estimated Jaccard >= threshold minus a standard-error tolerance (minhash.verify_threshold), group verified pairs with union-find, keep one survivor per cluster
   (clusters.py), then insert the survivors into the index.
3. semantic (optional): SemDeDup of the partition's survivors against each other and against the kept
   documents of earlier partitions (semantic.py); removals leave the index.
4. paragraphs (paragraphs.py): repeated paragraphs (navigation blocks, licence headers, banners) are cut
   from every document but the first that kept them, across categories; a document left empty is dropped.
5. write kept documents (edited texts where paragraphs were cut) and one DROP_SCHEMA row per removal
   (reason exact_duplicate / near_duplicate / semantic_duplicate / paragraph_duplicate, duplicate_of,
   similarity, detail JSON, param_version) or edit (paragraph_edit).
"""

import json
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.compute import Engine, LocalEngine, ParquetFiles
from curation.dedup import paragraphs
from curation.dedup.clusters import survivor_key, survivor_order
from curation.dedup.config import DedupConfig
from curation.dedup.index import DedupIndex
from curation.dedup.minhash import estimated_jaccard, lsh_params, verify_threshold
from curation.dedup.partitioned import partitioned_candidates
from curation.dedup.semantic import Embedder, GlobalIndex, embedded_chunks, semantic_duplicates
from curation.dedup.signatures import TIMERS, SignatureMapper, cache_dir, prune_cache, signature_tables
from curation.dedup.spill import BATCH_ROWS, DropSpill, RowCursor, drop_rows, text_slices
from curation.document import validate_category
from curation.embeddings import EmbedderSpec
from curation.lake import Lake, PartitionWriter, iter_parquet
from curation.lineage import find_texts, pairs_markdown, truncate
from curation.sql import sql_string

STAGE = "deduped"  # the asset and drop records share this name
EXACT, NEAR, SEMANTIC, EMPTY = "exact_duplicate", "near_duplicate", "semantic_duplicate", "empty_text"
_ROW = "_dedup_row"
_SAMPLE_PAIRS = 5
_FETCH_ROWS = 8192  # candidate pairs per fetch: two 1 KB signatures each, so ~16 MB a batch


def _docs_schema(num_perm: int) -> pa.Schema:
    return pa.schema([(_ROW, pa.int64()), ("doc_id", pa.string()), ("n_chars", pa.int64()),
                      ("exact_hash", pa.binary(16)), ("sig", pa.binary(4 * num_perm))])


_BANDS_SCHEMA = pa.schema([(_ROW, pa.int64()), ("band", pa.int16()), ("key", pa.uint64())])


def _sig_matrix(column: pa.Array | pa.ChunkedArray, num_perm: int) -> np.ndarray:
    """A binary column of packed uint32 signatures -> (n, num_perm) uint32, without a Python loop."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    fixed = pc.cast(column, pa.binary(4 * num_perm))
    data = np.frombuffer(fixed.buffers()[1], dtype=np.uint32)
    start = fixed.offset * num_perm
    return data[start:start + len(fixed) * num_perm].reshape(len(fixed), num_perm)


class _Spill:
    """Step 1's parquet files: signatures and band keys, and the input (plus a row number) unless the input
    is shard files, which are then read again in the same order (row numbers follow it)."""

    def __init__(self, workdir: Path, config: DedupConfig, source: ParquetFiles | None):
        self.workdir = workdir
        self.input_path, self.docs_path, self.bands_path = (workdir / f for f in
                                                            ("input.parquet", "docs.parquet", "bands.parquet"))
        self.docs = pq.ParquetWriter(self.docs_path, _docs_schema(config.num_perm), compression="lz4")
        self.bands = pq.ParquetWriter(self.bands_path, _BANDS_SCHEMA, compression="lz4")
        self.source = source
        self.input: pq.ParquetWriter | None = None
        self.input_schema: pa.Schema | None = None
        if source is not None and source.paths:
            self.input_schema = pq.read_schema(source.paths[0])

    def write_input(self, batch: pa.RecordBatch, rows: np.ndarray) -> None:
        table = pa.Table.from_batches([batch]).append_column(_ROW, pa.array(rows, pa.int64()))
        if self.input is None:
            self.input_schema = table.schema
            self.input = pq.ParquetWriter(self.input_path, table.schema, compression="lz4")
        self.input.write_table(table.cast(self.input_schema))

    def input_batches(self, columns: list[str] | None = None) -> Iterable[pa.RecordBatch]:
        """The input again, in order, each batch with its ``_ROW`` column; at most BATCH_ROWS rows and about
        SLICE_TEXT_BYTES of text a batch (``spill.text_slices``), whatever the size of the shard files."""
        for batch in self._input_batches(columns):
            yield from text_slices(batch)

    def _input_batches(self, columns: list[str] | None) -> Iterable[pa.RecordBatch]:
        if self.source is None:
            if self.input is None:
                return
            cols = None if columns is None else [*columns, _ROW]
            yield from iter_parquet(self.input_path, batch_size=BATCH_ROWS, columns=cols)
            return
        row = 0
        for path in self.source.paths:
            for b in iter_parquet(path, batch_size=BATCH_ROWS, columns=columns):
                yield b.append_column(_ROW, pa.array(np.arange(row, row + b.num_rows, dtype=np.int64)))
                row += b.num_rows

    def close(self) -> None:
        for w in (self.docs, self.bands, self.input):
            if w is not None:
                w.close()


def _signature_pass(batches, category, config, spill, bands, engine, cache, removals: DropSpill, stats) -> int:
    """Stream the signature rows (``signatures.signature_tables``), number the rows, spill docs and bands; texts
    empty after normalisation go to ``removals``."""
    if not isinstance(batches, ParquetFiles):  # an in-memory stream: keep a copy to write the kept rows from
        batches = _copied(batches, spill)
    mapper = SignatureMapper(config, *lsh_params(config.threshold, config.num_perm, config.fp_weight,
                                                 config.fn_weight))
    next_row = 0
    for table in signature_tables(batches, mapper, engine, cache, stats):
        n = table.num_rows
        row_ids = np.arange(next_row, next_row + n, dtype=np.int64)
        next_row += n
        stats["bytes_in"] += int(pc.sum(table.column("n_bytes")).as_py() or 0)
        for name, key in zip(TIMERS, ("seconds_normalise", "seconds_shingle", "seconds_signature")):
            stats[key] += float(pc.sum(table.column(name)).as_py() or 0.0)
        empty = table.column("empty").to_numpy(zero_copy_only=False)
        if empty.any():
            removals.write(drop_rows(table.column("doc_id").filter(pa.array(empty)), category, STAGE, EMPTY,
                                     config.param_version, detail="text is empty after normalisation"))
        keep = np.flatnonzero(~empty)
        if len(keep) == 0:
            continue
        kept = table.take(pa.array(keep))
        stats["shingles"] += int(pc.sum(kept.column("n_shingles")).as_py())
        stats["docs_char_shingled"] += int(pc.sum(kept.column("char_mode").cast(pa.int64())).as_py())
        stats["docs_shingles_capped"] += int(pc.sum(kept.column("capped").cast(pa.int64())).as_py())
        kept_rows = row_ids[keep]
        spill.docs.write_table(pa.table({
            _ROW: kept_rows, "doc_id": kept.column("doc_id"), "n_chars": kept.column("n_chars"),
            "exact_hash": kept.column("exact_hash"), "sig": kept.column("sig"),
        }, schema=_docs_schema(config.num_perm)))
        spill.bands.write_table(pa.table({
            _ROW: np.repeat(kept_rows, bands), "band": np.tile(np.arange(bands, dtype=np.int16), len(keep)),
            "key": _fixed_matrix(kept.column("keys"), np.uint64, bands).reshape(-1),
        }, schema=_BANDS_SCHEMA))
    return next_row


def _copied(batches: Iterable[pa.RecordBatch], spill: "_Spill") -> Iterable[pa.RecordBatch]:
    row = 0
    for b in batches:
        if b.num_rows:
            spill.write_input(b, np.arange(row, row + b.num_rows, dtype=np.int64))
            row += b.num_rows
            yield b


def _fixed_matrix(column, dtype, width: int) -> np.ndarray:
    """A fixed-size binary column without nulls -> (n, width) array of ``dtype``."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    data = np.frombuffer(column.buffers()[1], dtype=dtype)
    start = column.offset * width
    return data[start:start + len(column) * width].reshape(len(column), width)


def _exact_duplicates(con, config) -> None:
    """Temp table exact_drop(_row, doc_id, duplicate_of, in_index) per the survivor rule (clusters.py)."""
    if not config.exact:
        con.execute(f"CREATE TEMP TABLE exact_drop AS SELECT {_ROW}, doc_id, doc_id AS duplicate_of, "
                    "false AS in_index FROM new_docs LIMIT 0")
        return
    con.execute(f"""
        CREATE TEMP TABLE exact_drop AS
        WITH idx AS (
            SELECT exact_hash, first(doc_id ORDER BY n_chars DESC, doc_id) AS idx_doc
            FROM docs WHERE exact_hash IN (SELECT exact_hash FROM new_docs) GROUP BY exact_hash),
        ranked AS (
            SELECT n.{_ROW}, n.doc_id, idx.idx_doc,
                   first_value(n.doc_id) OVER w AS first_doc, row_number() OVER w AS rk
            FROM new_docs n LEFT JOIN idx USING (exact_hash)
            WINDOW w AS (PARTITION BY n.exact_hash ORDER BY n.n_chars DESC, n.doc_id, n.{_ROW}))
        SELECT {_ROW}, doc_id, coalesce(idx_doc, first_doc) AS duplicate_of, idx_doc IS NOT NULL AS in_index
        FROM ranked WHERE idx_doc IS NOT NULL OR rk > 1
    """)


def _verified_pairs(con, sql: str, num_perm: int, min_similarity: float):
    """Run a candidate query yielding (a, b, sig_a, sig_b); keep pairs with estimated Jaccard >= min_similarity."""
    keep_a, keep_b, keep_s, n_candidates = [], [], [], 0
    reader = con.sql(sql).to_arrow_reader(_FETCH_ROWS)
    for batch in reader:
        n_candidates += batch.num_rows
        sim = estimated_jaccard(_sig_matrix(batch.column(2), num_perm), _sig_matrix(batch.column(3), num_perm))
        ok = sim >= min_similarity
        keep_a.append(batch.column(0).to_numpy(zero_copy_only=False)[ok])
        keep_b.append(batch.column(1).to_numpy(zero_copy_only=False)[ok])
        keep_s.append(sim[ok])
    if not keep_a:
        return np.array([], np.int64), np.array([], object), np.array([]), 0
    return np.concatenate(keep_a), np.concatenate(keep_b), np.concatenate(keep_s), n_candidates


def _exact_drops(con, config, category: str, removals: DropSpill, removed: np.ndarray) -> int:
    """The exact duplicates (temp table exact_drop) as drop records, batch by batch; marks their rows in
    ``removed``. Returns how many duplicate a document of the index (kept earlier, any category)."""
    normalisation = "nfkc+whitespace" + ("+lowercase" if config.lowercase else "")
    details = [json.dumps({"method": "exact_hash", "normalisation": normalisation, "duplicate_in_index": flag})
               for flag in (False, True)]
    cross = 0
    # in row order: DuckDB builds exact_drop in parallel, so its own order changes from run to run
    reader = con.sql(f"SELECT {_ROW}, doc_id, duplicate_of, in_index FROM exact_drop "
                     f"ORDER BY {_ROW}").to_arrow_reader(_FETCH_ROWS)
    for batch in reader:
        removed[batch.column(0).to_numpy()] = True
        in_index = batch.column(3)
        cross += int(pc.sum(in_index.cast(pa.int64())).as_py() or 0)
        removals.write(drop_rows(batch.column(1), category, STAGE, EXACT, config.param_version,
                                 duplicate_of=batch.column(2), similarity=pa.array(np.ones(batch.num_rows)),
                                 detail=pc.if_else(in_index, details[1], details[0])))
    return cross


def _near_duplicates(con, config, stats, category: str, removals: DropSpill, removed: np.ndarray,
                     engine: Engine | None = None, band_partitions: int = 1, workdir: Path | None = None) -> int:
    """Near-duplicate removals as drop records (cluster by cluster, in survivor order), their rows marked in
    ``removed``. Returns how many duplicate a document of the index. The driver holds a few numbers per
    document of a verified pair (no signature, no Python object per document), and signatures stream in
    batches from DuckDB when each removal's similarity to its survivor is computed."""
    if not config.near:
        return 0
    window = config.bucket_window
    min_sim = verify_threshold(config)
    con.execute(f"""
        CREATE TEMP TABLE live_bands AS
        SELECT nb.band, nb.key, nb.{_ROW},
               row_number() OVER (PARTITION BY nb.band, nb.key ORDER BY nb.{_ROW}) AS rn
        FROM new_bands nb ANTI JOIN exact_drop e ON nb.{_ROW} = e.{_ROW}
    """)
    if band_partitions > 1 or (engine is not None and engine.name != "local"):
        new_pairs, idx_pairs, stats["band_join"] = partitioned_candidates(
            con, engine or LocalEngine(), band_partitions, workdir, window, config.duckdb_memory_limit)
    else:  # the single DuckDB join (the local default)
        new_pairs = f"""SELECT DISTINCT x.{_ROW} AS a, y.{_ROW} AS b FROM live_bands x JOIN live_bands y
                   ON x.band = y.band AND x.key = y.key AND y.rn > x.rn AND y.rn <= x.rn + {window}"""
        idx_pairs = f"""SELECT DISTINCT l.{_ROW} AS a, i.doc_id AS b FROM live_bands l JOIN bands i
                   ON l.band = i.band AND l.key = i.key"""
    new_a, new_b, new_s, n_new = _verified_pairs(con, f"""
        WITH c AS ({new_pairs})
        SELECT c.a, c.b, da.sig, db.sig FROM c JOIN new_docs da ON da.{_ROW} = c.a JOIN new_docs db ON db.{_ROW} = c.b
    """, config.num_perm, min_sim)
    idx_a, idx_b, idx_s, n_idx = _verified_pairs(con, f"""
        WITH c AS ({idx_pairs})
        SELECT c.a, c.b, da.sig, d.sig FROM c JOIN new_docs da ON da.{_ROW} = c.a JOIN docs d ON d.doc_id = c.b
    """, config.num_perm, min_sim)
    stats.update(candidate_pairs=n_new + n_idx, candidate_pairs_vs_index=n_idx,
                 verified_pairs=len(new_a) + len(idx_a))
    if len(new_a) + len(idx_a) == 0:
        stats["near_clusters"] = 0
        return 0

    # Nodes: this partition's rows (sorted), then index documents (sorted ids).
    rows = np.unique(np.concatenate([new_a, new_b, idx_a]).astype(np.int64))
    idx_docs = np.unique(idx_b)
    n_rows, n_nodes = len(rows), len(rows) + len(idx_docs)
    edges = np.concatenate([
        np.stack([np.searchsorted(rows, new_a), np.searchsorted(rows, new_b)], axis=1),
        np.stack([np.searchsorted(rows, idx_a), n_rows + np.searchsorted(idx_docs, idx_b)], axis=1),
    ]).astype(np.int64)
    sims = np.concatenate([new_s, idx_s])
    ids, in_index, rank, idx_sig = _node_info(con, rows, idx_docs, config.num_perm)
    closest, closest_sim = _closest_neighbour(edges, sims, n_nodes)

    nodes, survivors, sizes = survivor_order(n_nodes, edges, rank)
    stats["near_clusters"] = len(np.unique(survivors))
    out = (nodes != survivors) & ~in_index[nodes]  # index documents are already out; survivors stay
    nodes, survivors, sizes = nodes[out], survivors[out], sizes[out]
    removed[rows[nodes]] = True
    lsh = list(lsh_params(config.threshold, config.num_perm, config.fp_weight, config.fn_weight))
    # each removal beside its survivor's signature (NULL for a survivor in the index: idx_sig has it), in order
    con.register("near_removed", pa.table({
        "ord": np.arange(len(nodes), dtype=np.int64), "a": rows[nodes],
        "s": pa.array(np.where(survivors < n_rows, rows[np.minimum(survivors, n_rows - 1)], 0),
                      mask=survivors >= n_rows)}))
    reader = con.sql(f"""SELECT r.ord, na.sig, ns.sig FROM near_removed r JOIN new_docs na ON na.{_ROW} = r.a
                         LEFT JOIN new_docs ns ON ns.{_ROW} = r.s ORDER BY r.ord""").to_arrow_reader(_FETCH_ROWS)
    for batch in reader:
        at = batch.column(0).to_numpy()
        node, survivor = nodes[at], survivors[at]
        sig_a = _sig_matrix(batch.column(1), config.num_perm)
        in_idx = survivor >= n_rows
        sig_s = np.empty_like(sig_a)
        if (~in_idx).any():
            sig_s[~in_idx] = _sig_matrix(batch.column(2).filter(pa.array(~in_idx)), config.num_perm)
        if in_idx.any():
            sig_s[in_idx] = idx_sig[survivor[in_idx] - n_rows]
        detail = [json.dumps({"method": "minhash_lsh", "cluster_size": int(size), "closest_match": ids[near],
                              "closest_similarity": round(near_sim, 4), "verify_threshold": round(min_sim, 4),
                              "lsh_bands_rows": lsh})
                  for size, near, near_sim in zip(sizes[at].tolist(), closest[node].tolist(),
                                                  closest_sim[node].tolist())]
        removals.write(drop_rows(ids[node], category, STAGE, NEAR, config.param_version,
                                 duplicate_of=ids[survivor], similarity=estimated_jaccard(sig_a, sig_s),
                                 detail=detail))
    con.unregister("near_removed")
    return int(in_index[survivors].sum())


def _node_info(con, rows: np.ndarray, idx_docs: np.ndarray, num_perm: int):
    """(doc id, in the index, rank in survivor order (``survivor_key``, ties by node)) of every node, and the
    signatures of the index documents (the rows' signatures stay in DuckDB)."""
    con.register("wanted_rows", pa.table({"r": rows}))
    t = con.sql(f"SELECT n.doc_id, n.n_chars FROM new_docs n JOIN wanted_rows w ON n.{_ROW} = w.r "
                f"ORDER BY n.{_ROW}").to_arrow_table()
    con.unregister("wanted_rows")
    ids = np.concatenate([np.asarray(t.column(0).to_numpy(zero_copy_only=False), dtype=object), idx_docs])
    chars = np.concatenate([t.column(1).to_numpy(), np.zeros(len(idx_docs), dtype=np.int64)])
    idx_sig = np.zeros((len(idx_docs), num_perm), dtype=np.uint32)
    if len(idx_docs):
        con.register("wanted_docs", pa.table({"d": pa.array(idx_docs.tolist(), pa.string())}))
        t = con.sql("SELECT d.doc_id, any_value(d.n_chars), any_value(d.sig) FROM docs d JOIN wanted_docs w "
                    "ON d.doc_id = w.d GROUP BY d.doc_id").to_arrow_table()
        con.unregister("wanted_docs")
        at = np.searchsorted(idx_docs, np.asarray(t.column(0).to_numpy(zero_copy_only=False), dtype=object))
        chars[len(rows) + at] = t.column(1).to_numpy()
        idx_sig[at] = _sig_matrix(t.column(2), num_perm)
    n = len(ids)
    in_index = np.arange(n) >= len(rows)
    # survivor_key order: (not in the index, -n_chars, doc id), ties by node; UTF-8 byte order = code point order
    keys = pa.table({"out": pa.array(~in_index), "neg_chars": pa.array(-chars), "id": pa.array(ids, pa.string()),
                     "node": np.arange(n)})
    order = pc.sort_indices(keys, sort_keys=[("out", "ascending"), ("neg_chars", "ascending"), ("id", "ascending"),
                                             ("node", "ascending")]).to_numpy()
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return ids, in_index, rank, idx_sig


def _closest_neighbour(edges: np.ndarray, sims: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per node: its most similar neighbour (ties: the smallest node, so the answer does not depend on the order
    DuckDB returned the pairs in) and that similarity (-1 / nan: no edge)."""
    both = np.concatenate([edges, edges[:, ::-1]])
    s = np.concatenate([sims, sims])
    order = np.lexsort((both[:, 1], -s, both[:, 0]))
    first = order[np.unique(both[order, 0], return_index=True)[1]]
    node, sim = np.full(n_nodes, -1, dtype=np.int64), np.full(n_nodes, np.nan)
    node[both[first, 0]], sim[both[first, 0]] = both[first, 1], s[first]
    return node, sim


def _rebatch(batches: Iterable[pa.RecordBatch], size: int) -> Iterable[pa.RecordBatch]:
    """Batches of exactly ``size`` rows (the last may be shorter), in order."""
    held, n = [], 0
    for b in batches:
        held.append(b)
        n += b.num_rows
        while n >= size:
            table = pa.Table.from_batches(held).combine_chunks()
            yield from table.slice(0, size).to_batches(max_chunksize=size)
            rest = table.slice(size)
            held, n = rest.to_batches(), rest.num_rows
    if n:
        yield from pa.Table.from_batches(held).combine_chunks().to_batches()


def _semantic_pass(spill, removed: np.ndarray, keys_by_row, config, embedder, workdir, stats,
                   global_index: GlobalIndex | None = None, engine: Engine | None = None) -> list[dict]:
    """SemDeDup of the rows not ``removed``, embedded chunk by chunk: by ``embedder`` here, or, given an
    ``EmbedderSpec``, by the engine's workers (Ray Data with ``ray``), on the same chunks."""
    def chunks():
        for b in _rebatch(spill.input_batches(["text"]), config.semantic_batch_size):
            r = b.column(_ROW).to_numpy()
            live = ~removed[r]
            texts = [t for t, ok in zip(b.column("text").to_pylist(), live) if ok]
            if texts:
                yield r[live], texts

    embedded = None
    if isinstance(embedder, EmbedderSpec):  # each engine worker opens it (the driver too with local)
        engine = engine or LocalEngine()
        embedded = embedded_chunks(chunks(), embedder, engine, workdir)
    found, sem_stats = semantic_duplicates(chunks(), keys_by_row, embedder, config.semantic_eps,
                                           config.semantic_clusters, workdir, seed=config.seed,
                                           global_index=global_index, embedded=embedded)
    stats["semantic"] = sem_stats
    return [{"row": f.row, "duplicate_of_row": f.duplicate_of_row, "duplicate_of_doc": f.duplicate_of_doc,
             "similarity": f.similarity,
             "detail": json.dumps({"method": "semdedup", "kmeans_cluster": f.cluster, "eps": config.semantic_eps,
                                   "duplicate_in_index": f.duplicate_of_doc is not None})}
            for f in found]


def dedup_partition(
    batches: Iterable[pa.RecordBatch],
    category: str,
    lake: Lake,
    config: DedupConfig,
    out: PartitionWriter,
    drops_out: PartitionWriter,
    embedder: Embedder | None = None,
    engine: Engine | None = None,
    band_partitions: int = 1,
) -> dict:
    """Deduplicate one category partition against itself and every document kept before (any category).

    ``batches``: record batches, or the partition's shard files (``ParquetFiles``): then each file's
    signatures are kept between runs (``signatures.py``), so a re-run or a resumed run hashes only the shards
    it has not done. ``engine`` runs the per-document signatures (and the band join when ``band_partitions``
    > 1 or the engine is Ray, and SemDeDup's embeddings when ``embedder`` is an ``EmbedderSpec``: each worker
    opens the embedder once); every engine gives the same result. Writes kept documents (input columns
    unchanged) to ``out`` and DROP_SCHEMA rows to ``drops_out``; the caller commits both writers. Returns
    JSON-serialisable stats for the asset's metadata.
    """
    validate_category(category)
    if config.semantic and embedder is None:
        raise ValueError("config.semantic is on but no embedder was given (e.g. curation.embeddings.load_embedder())")
    t_start = time.perf_counter()
    bands, rows = lsh_params(config.threshold, config.num_perm, config.fp_weight, config.fn_weight)
    index = DedupIndex(lake.state_dir(STAGE))
    stats = {"docs_in": 0, "bytes_in": 0, "shingles": 0, "docs_char_shingled": 0, "docs_shingles_capped": 0,
             "seconds_normalise": 0.0, "seconds_shingle": 0.0, "seconds_signature": 0.0,
             "lsh": {"threshold": config.threshold, "num_perm": config.num_perm, "bands": bands, "rows": rows,
                     "verify_threshold": round(verify_threshold(config), 4)},
             "param_version": config.param_version, "candidate_pairs": 0, "candidate_pairs_vs_index": 0,
             "verified_pairs": 0, "near_clusters": 0}
    workdir = Path(tempfile.mkdtemp(prefix="work-", dir=lake.work_dir(STAGE, category)))  # its next run cleans it
    try:
        source = batches if isinstance(batches, ParquetFiles) else None
        cache = cache_dir(lake.state_dir(STAGE), category) if source is not None else None
        spill = _Spill(workdir, config, source)
        # drop records in ledger order (empty, exact, near, semantic, paragraph), then the paragraph edits
        removals, edits = DropSpill(workdir / "removals.parquet"), DropSpill(workdir / "edits.parquet")
        try:
            stats["docs_in"] = _signature_pass(batches, category, config, spill, bands, engine, cache, removals,
                                               stats)
        finally:
            spill.close()
        removed = np.zeros(stats["docs_in"], dtype=bool)  # one byte per input row: what leaves the partition
        t_sig = time.perf_counter()

        with index.update(config.index_version, config.duckdb_memory_limit) as con:
            con.execute(f"CREATE TEMP VIEW new_docs AS SELECT * FROM read_parquet({sql_string(spill.docs_path)})")
            con.execute(f"CREATE TEMP VIEW new_bands AS SELECT * FROM read_parquet({sql_string(spill.bands_path)})")
            stats["index_docs_before"] = con.execute("SELECT count(*) FROM docs WHERE category <> ?",
                                                     [category]).fetchone()[0]
            stats["index_docs_retired"] = con.execute("SELECT count(*) FROM docs WHERE category = ?",
                                                      [category]).fetchone()[0]
            for table in ("docs", "bands", "paragraphs", "sem_vectors"):  # this category's earlier run retires
                con.execute(f"DELETE FROM {table} WHERE category = ?", [category])
            _exact_duplicates(con, config)
            # a duplicate of a document another category kept first (issue 15.8: judged apart)
            stats["dropped_cross_category"] = _exact_drops(con, config, category, removals, removed)
            stats["dropped_cross_category"] += _near_duplicates(con, config, stats, category, removals, removed,
                                                                engine, band_partitions, workdir)
            con.register("removed", pa.table({"r": np.flatnonzero(removed).astype(np.int64)}))
            con.execute(f"INSERT INTO docs SELECT doc_id, ?, exact_hash, n_chars, sig FROM new_docs "
                        f"WHERE {_ROW} NOT IN (SELECT r FROM removed)", [category])
            con.execute(f"INSERT INTO bands SELECT b.band, b.key, d.doc_id, ? FROM new_bands b JOIN new_docs d "
                        f"USING ({_ROW}) WHERE b.{_ROW} NOT IN (SELECT r FROM removed)", [category])
            con.unregister("removed")
            stats["index_docs_after"] = con.execute("SELECT count(*) FROM docs").fetchone()[0]
        t_match = time.perf_counter()

        if config.semantic:
            keys_by_row = _survivor_keys(spill, removed)
            global_index = GlobalIndex(index, category, config.index_version, config.duckdb_memory_limit,
                                       config.semantic_index_chunk, _doc_ids(spill, list(keys_by_row)))
            semantic = _semantic_pass(spill, removed, keys_by_row, config, embedder, workdir, stats, global_index,
                                      engine)
            if semantic:
                sem_ids = _doc_ids(spill, [s["row"] for s in semantic])
                with index.update(config.index_version, config.duckdb_memory_limit) as con:
                    con.register("sem", pa.table({"d": list(sem_ids.values())}))
                    con.execute("DELETE FROM docs WHERE category = ? AND doc_id IN (SELECT d FROM sem)", [category])
                    con.execute("DELETE FROM bands WHERE category = ? AND doc_id IN (SELECT d FROM sem)", [category])
                    con.unregister("sem")
                removed[list(sem_ids)] = True
                stats["dropped_cross_category"] += sum(1 for d in semantic if d["duplicate_of_doc"])
                removals.write(_semantic_drops(semantic, spill, category, config))
        t_sem = time.perf_counter()

        para = paragraphs.run((lambda: spill.input_batches(["id", "text"])) if spill.input_schema is not None else None,
                              spill.docs_path, removed, config, index, category, workdir, STAGE, removals, edits)
        stats["paragraph"] = para.stats
        t_para = time.perf_counter()

        stats["docs_out"] = _write_kept(spill, removed, out, edits_path=para.edits_path)
        for spilled in (removals, edits):
            for batch in spilled.batches():
                drops_out.write(batch)
        stats["drops_by_reason"] = dict(removals.counts)
        stats["dropped_within_category"] = removals.rows - stats["dropped_cross_category"]
        stats["sample_pairs"] = _sample_pairs(lake, spill, removals)
        stats["sample_pairs_markdown"] = pairs_markdown(stats["sample_pairs"])
        if cache is not None:  # signatures of shards that left the partition
            stats["signature_files_pruned"] = prune_cache(cache, stats.pop("signature_cache_files", []))
        t_end = time.perf_counter()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    total = t_end - t_start
    stats["timings_s"] = {k: round(v, 3) for k, v in {
        "signatures": t_sig - t_start, "match_under_lock": t_match - t_sig, "semantic": t_sem - t_match,
        "paragraphs": t_para - t_sem, "write": t_end - t_para, "total": total}.items()}
    for k in ("seconds_normalise", "seconds_shingle", "seconds_signature"):
        stats[k] = round(stats[k], 3)
    stats["mb_per_s"] = round(stats["bytes_in"] / 1e6 / total, 3) if total else None
    stats["docs_per_s"] = round(stats["docs_in"] / total, 1) if total else None
    stats["index"] = index.size()
    return stats


def _survivor_keys(spill: _Spill, removed: np.ndarray) -> dict[int, tuple]:
    t = pq.read_table(spill.docs_path, columns=[_ROW, "doc_id", "n_chars"])
    return {r: survivor_key(False, c, d) for r, d, c in zip(*(t.column(i).to_pylist() for i in range(3)))
            if not removed[r]}


def _doc_ids(spill: _Spill, rows: list[int]) -> dict[int, str]:
    wanted = set(rows)
    out = {}
    for b in iter_parquet(spill.docs_path, batch_size=BATCH_ROWS, columns=[_ROW, "doc_id"]):
        for r, d in zip(b.column(0).to_pylist(), b.column(1).to_pylist()):
            if r in wanted:
                out[r] = d
    return out


def _semantic_drops(semantic: list[dict], spill: _Spill, category: str, config: DedupConfig) -> pa.Table:
    ids = _doc_ids(spill, [s["row"] for s in semantic] + [s["duplicate_of_row"] for s in semantic
                                                           if s["duplicate_of_row"] is not None])
    return drop_rows([ids[s["row"]] for s in semantic], category, STAGE, SEMANTIC, config.param_version,
                     duplicate_of=[s["duplicate_of_doc"] or ids[s["duplicate_of_row"]] for s in semantic],
                     similarity=[s["similarity"] for s in semantic], detail=[s["detail"] for s in semantic])


def _write_kept(spill: _Spill, removed: np.ndarray, out: PartitionWriter, edits_path: Path | None = None) -> int:
    """The input rows not ``removed``, in order, with the paragraph step's edited texts (``edits_path``: rows and
    texts sorted by row, read in step with the input)."""
    if spill.input_schema is None:
        return 0
    edits = RowCursor(iter_parquet(edits_path, batch_size=BATCH_ROWS) if edits_path else (), _ROW)
    kept = 0
    for batch in spill.input_batches():
        rows = batch.column(_ROW).to_numpy()
        table = pa.Table.from_batches([batch]).filter(pa.array(~removed[rows]))
        edited = edits.upto(int(rows[-1])) if len(rows) else None
        if edited is not None:
            table = paragraphs.edited_table(table, edited)
        table = table.drop_columns([_ROW])
        out.write(table)
        kept += table.num_rows
    return kept


def _sample_pairs(lake: Lake, spill: _Spill, removals: DropSpill) -> list[dict]:
    """Up to five removed documents beside what they duplicate: near first, then semantic, then exact (by doc id,
    then ledger order)."""
    order = {NEAR: 0, SEMANTIC: 1, EXACT: 2}
    chosen: list[tuple] = []
    position = 0
    for b in removals.batches(["doc_id", "reason", "duplicate_of", "similarity"]):
        reasons = b.column("reason").to_pylist()
        hits = [i for i, r in enumerate(reasons) if r in order]
        if hits:
            t = b.take(pa.array(hits)).to_pylist()
            chosen = sorted(chosen + [(order[d["reason"]], d["doc_id"], position + i, d) for i, d in zip(hits, t)],
                            key=lambda c: c[:3])[:_SAMPLE_PAIRS]
        position += b.num_rows
    if not chosen:
        return []
    chosen = [c[3] for c in chosen]
    ids = {d["doc_id"] for d in chosen} | {d["duplicate_of"] for d in chosen}
    texts = {}
    for b in spill.input_batches(["id", "text"]):
        for i, t in zip(b.column("id").to_pylist(), b.column("text").to_pylist()):
            if i in ids:
                texts[i] = t
    missing = ids - texts.keys()
    if missing:
        texts.update(find_texts(lake, missing))
    return [{"doc_id": d["doc_id"], "duplicate_of": d["duplicate_of"], "reason": d["reason"],
             "similarity": None if d["similarity"] is None else round(d["similarity"], 3),
             "text": truncate(texts.get(d["doc_id"])), "duplicate_text": truncate(texts.get(d["duplicate_of"]))}
            for d in chosen]
