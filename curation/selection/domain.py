"""Domain expansion (seed 004, 垂域数据扩充): recall the corpus documents most like a domain's seed documents.

A domain is a folder of seed shards (any landing format). Seeds and corpus documents are embedded over
the same prefix (their first ``prefix_tokens`` tokens; seed 004: 512); for every seed the ``top_k``
most similar corpus documents (seed 004: 10) whose cosine is at least ``min_similarity`` are tagged with
the domain, so a user can up-weight it (``boost``). Seed 004's next step, a person reviewing the recalled
documents, is what the ``domain`` column and ``corpusforge why`` are for. Memory: seeds x top_k.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curation.document import SkipCounter
from curation.readers import list_shards, read_shard
from curation.selection.config import DomainConfig


@dataclass
class DomainSeeds:
    config: DomainConfig
    vectors: np.ndarray  # (seeds, dim), unit norm
    skipped: SkipCounter = field(default_factory=SkipCounter)


def read_seed_texts(folder: Path, skips: SkipCounter) -> list[str]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"domain seed folder {folder} does not exist")
    texts = []
    for shard in list_shards(folder):
        for batch in read_shard(shard, "seeds", shard.name, skips):
            texts += [t for t in batch.column("text").to_pylist() if t and t.strip()]
    return texts


def recall(emb: np.ndarray, seeds: np.ndarray, top_k: int, min_similarity: float, block: int = 4096
           ) -> tuple[np.ndarray, np.ndarray]:
    """(tagged mask, best cosine to any seed) over the corpus embeddings, streamed ``block`` rows at a time."""
    n = emb.shape[0]
    best = np.full(n, -1.0)
    top_sims = np.full((len(seeds), 0), -np.inf)
    top_rows = np.zeros((len(seeds), 0), dtype=np.int64)
    for lo in range(0, n, block):
        sims = (np.asarray(emb[lo:lo + block], dtype=np.float32) @ seeds.T).T  # (seeds, block)
        best[lo:lo + block] = sims.max(axis=0)
        all_sims = np.concatenate([top_sims, sims], axis=1)
        all_rows = np.concatenate([top_rows, np.broadcast_to(np.arange(lo, lo + sims.shape[1]), sims.shape)], axis=1)
        keep = np.argsort(-all_sims, axis=1, kind="stable")[:, :top_k]
        top_sims = np.take_along_axis(all_sims, keep, axis=1)
        top_rows = np.take_along_axis(all_rows, keep, axis=1)
    tagged = np.zeros(n, dtype=bool)
    tagged[top_rows[top_sims >= min_similarity]] = True
    return tagged, best
