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

from curation.embeddings import Embedder, minibatch_kmeans, spill_embeddings


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
    rows, emb = spill_embeddings(rows_and_texts, embedder, workdir / "embeddings.f32")
    n = len(rows)
    if n < 2:
        return [], {"docs": n, "clusters": 0}
    k = max(1, min(n_clusters, n // 2))
    labels, _ = minibatch_kmeans(emb, k, seed=seed)

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
