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
from curation.dedup.clusters import clusters_with_survivors, survivor_key
from curation.dedup.config import DedupConfig
from curation.dedup.index import DedupIndex
from curation.dedup.minhash import estimated_jaccard, lsh_params, verify_threshold
from curation.dedup.partitioned import partitioned_candidates
from curation.dedup.semantic import Embedder, GlobalIndex, semantic_duplicates
from curation.dedup.signatures import SignatureMapper, TIMERS, cache_dir, prune_cache, signature_tables
from curation.document import Drop, drops_to_table, validate_category
from curation.lake import Lake, PartitionWriter
from curation.lineage import find_texts, pairs_markdown, truncate
from curation.sql import sql_string

STAGE = "deduped"  # the asset and drop records share this name
EXACT, NEAR, SEMANTIC, EMPTY = "exact_duplicate", "near_duplicate", "semantic_duplicate", "empty_text"
_ROW = "_dedup_row"
_SAMPLE_PAIRS = 5
_FETCH_ROWS = 65_536


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
        """The input again, in order, each batch with its ``_ROW`` column."""
        if self.source is None:
            if self.input is None:
                return
            cols = None if columns is None else [*columns, _ROW]
            yield from pq.ParquetFile(self.input_path).iter_batches(columns=cols)
            return
        row = 0
        for path in self.source.paths:
            for b in pq.ParquetFile(path).iter_batches(columns=columns):
                yield b.append_column(_ROW, pa.array(np.arange(row, row + b.num_rows, dtype=np.int64)))
                row += b.num_rows

    def close(self) -> None:
        for w in (self.docs, self.bands, self.input):
            if w is not None:
                w.close()


def _signature_pass(batches, category, config, spill, bands, engine, cache, empty_drops, stats) -> int:
    """Stream the signature rows (``signatures.signature_tables``), number the rows, spill docs and bands."""
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
        ids = table.column("doc_id")
        for i in np.flatnonzero(empty):
            empty_drops.append(Drop(ids[int(i)].as_py(), category, STAGE, EMPTY,
                                    detail="text is empty after normalisation", param_version=config.param_version))
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


def _near_duplicates(con, config, stats, engine: Engine | None = None, band_partitions: int = 1,
                     workdir: Path | None = None) -> list[dict]:
    """Near-duplicate removals: [{row, doc_id, duplicate_of, similarity, in_index, detail}]."""
    if not config.near:
        return []
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
        return []

    # Nodes: this partition's rows, then index documents.
    rows = np.unique(np.concatenate([new_a, new_b, idx_a]))
    idx_docs = sorted(set(idx_b.tolist()))
    node_of_row = {int(r): i for i, r in enumerate(rows)}
    node_of_doc = {d: len(rows) + i for i, d in enumerate(idx_docs)}
    info = _node_info(con, rows, idx_docs, config.num_perm)
    keys = [survivor_key(*info[n][:3]) for n in range(len(rows) + len(idx_docs))]
    edges = np.array([(node_of_row[int(a)], node_of_row[int(b)]) for a, b in zip(new_a, new_b)]
                     + [(node_of_row[int(a)], node_of_doc[b]) for a, b in zip(idx_a, idx_b)], dtype=np.int64)
    sims = np.concatenate([new_s, idx_s])
    closest = _closest_neighbour(edges, sims)

    removed, clusters = [], clusters_with_survivors(len(keys), edges, keys)
    stats["near_clusters"] = len(clusters)
    for survivor, members in clusters:
        for node in members:
            in_index, _, doc_id, row, sig = info[node]
            if node == survivor or in_index:
                continue
            near_node, near_sim = closest[node]
            removed.append({
                "row": row, "doc_id": doc_id, "duplicate_of": info[survivor][2], "in_index": info[survivor][0],
                "similarity": float(estimated_jaccard(sig, info[survivor][4])),
                "detail": json.dumps({"method": "minhash_lsh", "cluster_size": len(members),
                                      "closest_match": info[near_node][2], "closest_similarity": round(near_sim, 4),
                                      "verify_threshold": round(min_sim, 4),
                                      "lsh_bands_rows": list(lsh_params(config.threshold, config.num_perm,
                                                                        config.fp_weight, config.fn_weight))}),
            })
    return removed


def _node_info(con, rows: np.ndarray, idx_docs: list[str], num_perm: int) -> list[tuple]:
    """Per node: (in_index, n_chars, doc_id, row or None, signature)."""
    con.register("wanted_rows", pa.table({"r": rows}))
    t = con.sql(f"SELECT n.{_ROW}, n.doc_id, n.n_chars, n.sig FROM new_docs n JOIN wanted_rows w "
                f"ON n.{_ROW} = w.r").to_arrow_table()
    con.unregister("wanted_rows")
    by_row = {r: i for i, r in enumerate(t.column(0).to_pylist())}
    sig, ids, chars = _sig_matrix(t.column(3), num_perm), t.column(1).to_pylist(), t.column(2).to_pylist()
    info = [(False, chars[by_row[int(r)]], ids[by_row[int(r)]], int(r), sig[by_row[int(r)]]) for r in rows]
    if idx_docs:
        con.register("wanted_docs", pa.table({"d": idx_docs}))
        t = con.sql("SELECT d.doc_id, any_value(d.n_chars), any_value(d.sig) FROM docs d JOIN wanted_docs w "
                    "ON d.doc_id = w.d GROUP BY d.doc_id").to_arrow_table()
        con.unregister("wanted_docs")
        by_doc = {d: i for i, d in enumerate(t.column(0).to_pylist())}
        isig, ichars = _sig_matrix(t.column(2), num_perm), t.column(1).to_pylist()
        info += [(True, ichars[by_doc[d]], d, None, isig[by_doc[d]]) for d in idx_docs]
    return info


def _closest_neighbour(edges: np.ndarray, sims: np.ndarray) -> dict[int, tuple[int, float]]:
    both = np.concatenate([edges, edges[:, ::-1]])
    s = np.concatenate([sims, sims])
    order = np.lexsort((-s, both[:, 0]))
    first = np.unique(both[order, 0], return_index=True)[1]
    return {int(both[order[i], 0]): (int(both[order[i], 1]), float(s[order[i]])) for i in first}


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


def _semantic_pass(spill, removed_rows: set[int], keys_by_row, config, embedder, workdir, stats,
                   global_index: GlobalIndex | None = None) -> list[dict]:
    def chunks():
        for b in _rebatch(spill.input_batches(["text"]), config.semantic_batch_size):
            r = b.column(_ROW).to_numpy()
            live = np.array([int(x) not in removed_rows for x in r], dtype=bool)
            texts = [t for t, ok in zip(b.column("text").to_pylist(), live) if ok]
            if texts:
                yield r[live], texts

    found, sem_stats = semantic_duplicates(chunks(), keys_by_row, embedder, config.semantic_eps,
                                           config.semantic_clusters, workdir, seed=config.seed,
                                           global_index=global_index)
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
    > 1 or the engine is Ray); every engine gives the same result. Writes kept documents (input columns
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
        empty_drops: list[Drop] = []
        try:
            stats["docs_in"] = _signature_pass(batches, category, config, spill, bands, engine, cache, empty_drops,
                                               stats)
        finally:
            spill.close()
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
            exact = con.execute(f"SELECT {_ROW}, doc_id, duplicate_of, in_index FROM exact_drop").fetchall()
            near = _near_duplicates(con, config, stats, engine, band_partitions, workdir)
            # a duplicate of a document another category kept first (issue 15.8: judged apart)
            stats["dropped_cross_category"] = sum(bool(e[3]) for e in exact) + sum(bool(d["in_index"]) for d in near)
            removed_rows = {r for r, *_ in exact} | {d["row"] for d in near}
            con.register("removed", pa.table({"r": np.array(sorted(removed_rows), dtype=np.int64)}))
            con.execute(f"INSERT INTO docs SELECT doc_id, ?, exact_hash, n_chars, sig FROM new_docs "
                        f"WHERE {_ROW} NOT IN (SELECT r FROM removed)", [category])
            con.execute(f"INSERT INTO bands SELECT b.band, b.key, d.doc_id, ? FROM new_bands b JOIN new_docs d "
                        f"USING ({_ROW}) WHERE b.{_ROW} NOT IN (SELECT r FROM removed)", [category])
            con.unregister("removed")
            stats["index_docs_after"] = con.execute("SELECT count(*) FROM docs").fetchone()[0]
        t_match = time.perf_counter()

        semantic = []
        if config.semantic:
            keys_by_row = _survivor_keys(spill, removed_rows)
            global_index = GlobalIndex(index, category, config.index_version, config.duckdb_memory_limit,
                                       config.semantic_index_chunk, _doc_ids(spill, list(keys_by_row)))
            semantic = _semantic_pass(spill, removed_rows, keys_by_row, config, embedder, workdir, stats,
                                      global_index)
            if semantic:
                sem_ids = _doc_ids(spill, [s["row"] for s in semantic])
                with index.update(config.index_version, config.duckdb_memory_limit) as con:
                    con.register("sem", pa.table({"d": list(sem_ids.values())}))
                    con.execute("DELETE FROM docs WHERE category = ? AND doc_id IN (SELECT d FROM sem)", [category])
                    con.execute("DELETE FROM bands WHERE category = ? AND doc_id IN (SELECT d FROM sem)", [category])
                    con.unregister("sem")
                removed_rows |= set(sem_ids)
                stats["dropped_cross_category"] += sum(1 for d in semantic if d["duplicate_of_doc"])
        t_sem = time.perf_counter()

        para = paragraphs.run((lambda: spill.input_batches(["id", "text"])) if spill.input_schema is not None else None,
                              spill.docs_path,
                              removed_rows, config, index, category, workdir)
        removed_rows |= set(para.emptied)
        para_drops, para_edits = paragraphs.ledger_rows(para, category, STAGE, config)
        stats["paragraph"] = para.stats
        t_para = time.perf_counter()

        drops = empty_drops + _drops(exact, near, semantic, spill, category, config) + para_drops
        stats["docs_out"] = _write_kept(spill, removed_rows, stats["docs_in"], out, para.edits)
        drops_out.write(drops_to_table(drops + para_edits))
        stats["drops_by_reason"] = _count_reasons(drops)
        stats["dropped_within_category"] = len(drops) - stats["dropped_cross_category"]
        stats["sample_pairs"] = _sample_pairs(lake, spill, drops)
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


def _survivor_keys(spill: _Spill, removed_rows: set[int]) -> dict[int, tuple]:
    t = pq.read_table(spill.docs_path, columns=[_ROW, "doc_id", "n_chars"])
    return {r: survivor_key(False, c, d) for r, d, c in zip(*(t.column(i).to_pylist() for i in range(3)))
            if r not in removed_rows}


def _doc_ids(spill: _Spill, rows: list[int]) -> dict[int, str]:
    wanted = set(rows)
    out = {}
    for b in pq.ParquetFile(spill.docs_path).iter_batches(columns=[_ROW, "doc_id"]):
        for r, d in zip(b.column(0).to_pylist(), b.column(1).to_pylist()):
            if r in wanted:
                out[r] = d
    return out


def _drops(exact, near, semantic, spill, category, config) -> list[Drop]:
    pv = config.param_version
    drops = [Drop(doc_id, category, STAGE, EXACT, duplicate_of=dup, similarity=1.0, param_version=pv,
                  detail=json.dumps({"method": "exact_hash", "normalisation": "nfkc+whitespace"
                                     + ("+lowercase" if config.lowercase else ""),
                                     "duplicate_in_index": bool(in_index)}))
             for _, doc_id, dup, in_index in exact]
    drops += [Drop(d["doc_id"], category, STAGE, NEAR, duplicate_of=d["duplicate_of"], similarity=d["similarity"],
                   detail=d["detail"], param_version=pv) for d in near]
    if semantic:
        ids = _doc_ids(spill, [s["row"] for s in semantic] + [s["duplicate_of_row"] for s in semantic
                                                               if s["duplicate_of_row"] is not None])
        drops += [Drop(ids[s["row"]], category, STAGE, SEMANTIC,
                       duplicate_of=s["duplicate_of_doc"] or ids[s["duplicate_of_row"]],
                       similarity=s["similarity"], detail=s["detail"], param_version=pv) for s in semantic]
    return drops


def _write_kept(spill: _Spill, removed_rows: set[int], n_rows: int, out: PartitionWriter,
                edits: dict[int, str] | None = None) -> int:
    if spill.input_schema is None:
        return 0
    removed = np.zeros(n_rows, dtype=bool)
    removed[list(removed_rows)] = True
    kept = 0
    for batch in spill.input_batches():
        mask = ~removed[batch.column(_ROW).to_numpy()]
        table = pa.Table.from_batches([batch]).filter(pa.array(mask))
        table = paragraphs.edited_table(table, edits or {}).drop_columns([_ROW])
        out.write(table)
        kept += table.num_rows
    return kept


def _count_reasons(drops: list[Drop]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in drops:
        counts[d.reason] = counts.get(d.reason, 0) + 1
    return counts


def _sample_pairs(lake: Lake, spill: _Spill, drops: list[Drop]) -> list[dict]:
    """Up to five removed documents beside what they duplicate: near first, then semantic, then exact."""
    order = {NEAR: 0, SEMANTIC: 1, EXACT: 2}
    chosen = sorted((d for d in drops if d.reason in order), key=lambda d: (order[d.reason], d.doc_id))
    chosen = chosen[:_SAMPLE_PAIRS]
    if not chosen:
        return []
    ids = {d.doc_id for d in chosen} | {d.duplicate_of for d in chosen}
    texts = {}
    for b in spill.input_batches(["id", "text"]):
        for i, t in zip(b.column("id").to_pylist(), b.column("text").to_pylist()):
            if i in ids:
                texts[i] = t
    missing = ids - texts.keys()
    if missing:
        texts.update(find_texts(lake, missing))
    return [{"doc_id": d.doc_id, "duplicate_of": d.duplicate_of, "reason": d.reason,
             "similarity": None if d.similarity is None else round(d.similarity, 3),
             "text": truncate(texts.get(d.doc_id)), "duplicate_text": truncate(texts.get(d.duplicate_of))}
            for d in chosen]
