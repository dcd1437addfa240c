"""SemDeDup-style semantic deduplication (Abbas et al., 2023): embed, k-means, drop near-identical meanings.

Within each k-means cluster, documents are visited in survivor order (longest first, then smallest id, as
for MinHash clusters); a document whose cosine similarity to an already kept document of its cluster is
above ``1 - eps`` is removed as a duplicate of that document. Embeddings are spilled to a memmap on disk
and k-means is fitted with MiniBatchKMeans.partial_fit over chunks, so memory is bounded by a chunk plus
the largest cluster.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.embeddings import Embedder


@dataclass
class SemanticDuplicate:
    row: int
    duplicate_of_row: int
    similarity: float
    cluster: int


def semantic_duplicates(
    rows_and_texts: Iterable[tuple[np.ndarray, list[str]]],
    order_keys: dict[int, tuple],
    embedder: Embedder,
    eps: float,
    n_clusters: int,
    workdir: Path,
    seed: int = 0,
) -> tuple[list[SemanticDuplicate], dict]:
    """Semantic duplicates among the given documents (streamed as (rows, texts) chunks)."""
    from sklearn.cluster import MiniBatchKMeans

    rows_list, emb_path, dim, n = [], workdir / "embeddings.f32", None, 0
    with open(emb_path, "wb") as fh:
        for rows, texts in rows_and_texts:
            emb = np.asarray(embedder(texts), dtype=np.float32)
            if emb.ndim != 2 or emb.shape[0] != len(texts):
                raise ValueError(f"embedder returned shape {emb.shape} for {len(texts)} texts")
            emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
            dim = emb.shape[1]
            fh.write(emb.tobytes())
            rows_list.append(np.asarray(rows, dtype=np.int64))
            n += len(rows)
    if n < 2:
        return [], {"docs": n, "clusters": 0}
    rows = np.concatenate(rows_list)
    emb = np.memmap(emb_path, dtype=np.float32, mode="r", shape=(n, dim))
    k = max(1, min(n_clusters, n // 2))
    kmeans = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=max(1024, k), n_init=3)
    chunk = max(4096, k)
    for lo in range(0, n, chunk):
        part = emb[lo:lo + chunk]
        if len(part) >= k:
            kmeans.partial_fit(part)
    if not hasattr(kmeans, "cluster_centers_"):
        kmeans.partial_fit(emb[:])
    labels = np.concatenate([kmeans.predict(emb[lo:lo + chunk]) for lo in range(0, n, chunk)])

    found: list[SemanticDuplicate] = []
    for cluster in np.unique(labels):
        idx = np.flatnonzero(labels == cluster)
        if len(idx) < 2:
            continue
        idx = np.array(sorted(idx, key=lambda i: order_keys[int(rows[i])]))
        vecs = np.asarray(emb[idx])
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
    return found, {"docs": n, "clusters": int(k)}
