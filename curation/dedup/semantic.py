"""SemDeDup-style semantic deduplication (Abbas et al., 2023): embed, k-means, drop near-identical meanings.

Within each k-means cluster, documents are visited in survivor order (longest first, then smallest id, as
for MinHash clusters); a document whose cosine similarity to an already kept document of its cluster is
above ``1 - eps`` is removed as a duplicate of that document. Embeddings are spilled to a memmap on disk
and k-means is fitted with MiniBatchKMeans.partial_fit over chunks, so memory is bounded by a chunk plus
the largest cluster.

Across the whole index (``GlobalIndex``): the first partition that runs SemDeDup fits the k-means
centroids and stores them in the dedup index; every partition's kept documents store their embedding and
cluster there. A later partition (any category) assigns its documents to the stored centroids and compares
each with the kept documents of earlier partitions in the same cluster, read from DuckDB
``semantic_index_chunk`` vectors at a time, before the within-partition pass: an earlier kept document
wins, as in MinHash dedup against the index. Memory holds the partition's cluster members and one chunk.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.compute import BatchMapper, Engine, ParquetFiles
from curation.embeddings import Embedder, EmbedderSpec, minibatch_kmeans, spill_embeddings, spill_vectors


@dataclass
class SemanticDuplicate:
    row: int
    duplicate_of_row: int | None  # a row of this partition, or None: ``duplicate_of_doc`` in the index
    similarity: float
    cluster: int
    duplicate_of_doc: str | None = None


@dataclass
class GlobalIndex:
    """Where a partition's SemDeDup meets the earlier partitions' kept documents (the dedup index's
    ``sem_centroids`` / ``sem_vectors`` tables, under its lock)."""

    index: object  # curation.dedup.index.DedupIndex
    category: str
    index_version: str
    memory_limit: str
    chunk: int
    doc_ids: dict[int, str]  # row -> doc id of this partition's documents


def semantic_duplicates(
    rows_and_texts: Iterable[tuple[np.ndarray, list[str]]],
    order_keys: dict[int, tuple],
    embedder: Embedder,
    eps: float,
    n_clusters: int,
    workdir: Path,
    seed: int = 0,
    global_index: GlobalIndex | None = None,
    embedded: Iterable[tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[list[SemanticDuplicate], dict]:
    """Semantic duplicates among the given documents (streamed as (rows, texts) chunks, or ``embedded``
    elsewhere as (rows, vectors) chunks, ``embedded_chunks``), and against the kept documents of earlier
    partitions when ``global_index`` is given."""
    path = workdir / "embeddings.f32"
    rows, emb = spill_vectors(embedded, path) if embedded is not None else spill_embeddings(rows_and_texts, embedder,
                                                                                           path)
    n = len(rows)
    if n == 0 or (n < 2 and global_index is None):
        return [], {"docs": n, "clusters": 0}
    if global_index is None:
        labels, k, _ = _fit_labels(emb, n, n_clusters, seed)
        found = _within(rows, emb, labels, order_keys, eps)
        return found, {"docs": n, "clusters": int(k)}
    gi = global_index
    with gi.index.update(gi.index_version, gi.memory_limit) as con:
        centroids = _stored_centroids(con, emb.shape[1])
        fitted_here = centroids is None
        if fitted_here:
            if n < 2:
                return [], {"docs": n, "clusters": 0, "index_vectors": 0}
            labels, k, centroids = _fit_labels(emb, n, n_clusters, seed)
            con.executemany("INSERT INTO sem_centroids VALUES (?, ?)",
                            [(i, c.astype(np.float32).tobytes()) for i, c in enumerate(centroids)])
        else:
            labels = _nearest(emb, centroids, gi.chunk)
        con.execute("DELETE FROM sem_vectors WHERE category = ?", [gi.category])
        before = con.execute("SELECT count(*) FROM sem_vectors").fetchone()[0]
        found = _against_index(con, rows, emb, labels, eps, gi)
        matched = {f.row for f in found}
        live = np.array([int(r) not in matched for r in rows], dtype=bool)
        found += _within(rows[live], emb, labels[live], order_keys, eps, positions=np.flatnonzero(live))
        removed = {f.row for f in found}
        keep = [i for i, r in enumerate(rows) if int(r) not in removed]
        for lo in range(0, len(keep), gi.chunk):
            part = keep[lo:lo + gi.chunk]
            con.executemany("INSERT INTO sem_vectors VALUES (?, ?, ?, ?)",
                            [(gi.doc_ids[int(rows[i])], gi.category, int(labels[i]),
                              np.asarray(emb[i], dtype=np.float32).tobytes()) for i in part])
    return found, {"docs": n, "clusters": len(centroids), "centroids_fitted_here": fitted_here,
                   "index_vectors_before": int(before), "duplicates_vs_index": len(matched),
                   "duplicates_within": len(found) - len(matched)}


class ChunkEmbedder(BatchMapper):
    """Rows holding one chunk each (``rows``: list of row numbers, ``texts``: their texts) -> the chunk's
    vectors (``vectors``: float32 bytes, ``dim``), a chunk embedded in one call as the in-process path embeds it,
    so the vectors are the same; the embedder is opened once per process (a Ray worker) from its spec."""

    def __init__(self, spec: EmbedderSpec):
        self.spec = spec
        self._embed = None

    def __getstate__(self):
        return {**self.__dict__, "_embed": None}

    def setup(self) -> None:
        self._embed = self.spec.open()

    def __call__(self, table: pa.Table) -> pa.Table:
        vectors, dims = [], []
        for texts in table.column("texts").to_pylist():
            emb = np.asarray(self._embed(texts), dtype=np.float32)
            vectors.append(emb.tobytes())
            dims.append(emb.shape[1] if emb.ndim == 2 else 0)
        return pa.table({"rows": table.column("rows"), "vectors": pa.array(vectors, pa.binary()),
                         "dim": pa.array(dims, pa.int32())})


_CHUNKS_SCHEMA = pa.schema([("rows", pa.list_(pa.int64())), ("texts", pa.list_(pa.string()))])
CHUNKS_PER_BATCH = 16  # chunks (of semantic_batch_size texts) per engine batch


def embedded_chunks(chunks: Iterable[tuple[np.ndarray, list[str]]], spec: EmbedderSpec, engine: Engine,
                    workdir: Path) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The chunks embedded by the engine (Ray workers with ``ray``): spilled to parquet one chunk a row, mapped
    by ``ChunkEmbedder``, streamed back in order as (rows, vectors)."""
    path = workdir / "semantic_chunks.parquet"
    with pq.ParquetWriter(path, _CHUNKS_SCHEMA, compression="lz4") as writer:
        held: list[tuple[np.ndarray, list[str]]] = []
        for rows, texts in chunks:
            held.append((rows, texts))
            if len(held) == CHUNKS_PER_BATCH:
                writer.write_table(_chunk_table(held))
                held = []
        if held:
            writer.write_table(_chunk_table(held))
    for _, table in engine.map_files(ParquetFiles.of([path]), ChunkEmbedder(spec), batch_size=CHUNKS_PER_BATCH):
        for rows, vectors, dim in zip(table.column("rows").to_pylist(), table.column("vectors").to_pylist(),
                                      table.column("dim").to_pylist()):
            yield np.asarray(rows, dtype=np.int64), np.frombuffer(vectors, dtype=np.float32).reshape(len(rows), dim)


def _chunk_table(held: list[tuple[np.ndarray, list[str]]]) -> pa.Table:
    return pa.table({"rows": [np.asarray(r, dtype=np.int64).tolist() for r, _ in held],
                     "texts": [t for _, t in held]}, schema=_CHUNKS_SCHEMA)


def _fit_labels(emb, n: int, n_clusters: int, seed: int) -> tuple[np.ndarray, int, np.ndarray]:
    """(labels, k, centres): SemDeDup's k is at most half the documents (clusters of at least two)."""
    k = max(1, min(n_clusters, n // 2))
    labels, centres = minibatch_kmeans(emb, k, seed=seed)
    return labels, k, centres


def _stored_centroids(con, dim: int) -> np.ndarray | None:
    rows = con.execute("SELECT cluster, vec FROM sem_centroids ORDER BY cluster").fetchall()
    if not rows:
        return None
    centroids = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in rows])
    if centroids.shape[1] != dim:
        raise ValueError(f"the dedup index's SemDeDup centroids are {centroids.shape[1]}-d, this embedder gives "
                         f"{dim}-d vectors: another embedder built them. Use the same embedder, or delete the "
                         "index and re-materialise every category.")
    return centroids


def _nearest(emb, centroids: np.ndarray, chunk: int) -> np.ndarray:
    """k-means assignment (smallest Euclidean distance) to stored centroids, chunk by chunk."""
    half_norm = 0.5 * np.einsum("ij,ij->i", centroids, centroids)
    return np.concatenate([np.argmax(np.asarray(emb[lo:lo + chunk]) @ centroids.T - half_norm, axis=1)
                           for lo in range(0, len(emb), chunk)]) if len(emb) else np.empty(0, np.int64)


def _against_index(con, rows, emb, labels, eps: float, gi: GlobalIndex) -> list[SemanticDuplicate]:
    """Each new document against the earlier kept documents of its cluster (other partitions)."""
    found: list[SemanticDuplicate] = []
    for cluster in np.unique(labels):
        idx = np.flatnonzero(labels == cluster)
        vecs = np.asarray(emb[idx])
        best_sim = np.full(len(idx), -np.inf)
        best_doc: list[str | None] = [None] * len(idx)
        reader = con.execute("SELECT doc_id, vec FROM sem_vectors WHERE cluster = ? AND category <> ?",
                             [int(cluster), gi.category])
        while batch := reader.fetchmany(gi.chunk):
            other = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in batch])
            sims = vecs @ other.T
            j = np.argmax(sims, axis=1)
            top = sims[np.arange(len(idx)), j]
            better = top > best_sim
            best_sim[better] = top[better]
            for i in np.flatnonzero(better):
                best_doc[i] = batch[int(j[i])][0]
        for i in np.flatnonzero(best_sim > 1.0 - eps):
            found.append(SemanticDuplicate(int(rows[idx[i]]), None, float(best_sim[i]), int(cluster), best_doc[i]))
    return found


def _within(rows, emb, labels, order_keys: dict[int, tuple], eps: float,
            positions: np.ndarray | None = None) -> list[SemanticDuplicate]:
    """The partition's own duplicates, cluster by cluster, in survivor order. ``positions``: where each of
    ``rows`` sits in ``emb`` (all rows in order when None)."""
    positions = np.arange(len(rows)) if positions is None else positions
    found: list[SemanticDuplicate] = []
    for cluster in np.unique(labels):
        idx = np.flatnonzero(labels == cluster)
        if len(idx) < 2:
            continue
        idx = np.array(sorted(idx, key=lambda i: order_keys[int(rows[i])]))
        vecs = np.asarray(emb[positions[idx]])
        sims = vecs @ vecs.T
        kept: list[int] = []
        for j in range(len(idx)):
            if kept:
                best = kept[int(np.argmax(sims[j, kept]))]
                if sims[j, best] > 1.0 - eps:
                    found.append(SemanticDuplicate(int(rows[idx[j]]), int(rows[idx[best]]), float(sims[j, best]),
                                                   int(cluster)))
                    continue
            kept.append(j)
    return found
