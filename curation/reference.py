"""Deterministic samples of lake documents: reference (positive) and pool (negative) sets
for training the quality models (DCLM trains on reference vs raw pool, Li et al. 2024)."""

import heapq
from collections.abc import Iterable

from curation.hashing import hash_bytes
from curation.lake import Lake


def _rank(doc_id: str, salt: str) -> bytes:
    return hash_bytes(doc_id, salt)


def sample_documents(
    lake: Lake, stage: str, categories: Iterable[str], per_category: int, salt: str = "reference",
    exclude_ids: set[str] = frozenset(),
) -> list[tuple[str, str, str]]:
    """(id, category, text) of up to ``per_category`` documents per category, chosen by a salted
    hash of the id: the same corpus always gives the same sample, and memory holds one batch plus
    the sample (a bounded heap), not the partition."""
    picked: list[tuple[str, str, str]] = []
    for category in categories:
        heap: list[tuple[bytes, str, str]] = []  # max-heap on rank via negated bytes ordering
        for batch in lake.iter_batches(stage, category, columns=["id", "text"]):
            for doc_id, text in zip(batch.column("id").to_pylist(), batch.column("text").to_pylist()):
                if doc_id in exclude_ids:
                    continue
                key = bytes(255 - b for b in _rank(doc_id, salt))  # smallest rank = largest key
                if len(heap) < per_category:
                    heapq.heappush(heap, (key, doc_id, text))
                elif key > heap[0][0]:
                    heapq.heapreplace(heap, (key, doc_id, text))
        picked += sorted(((d, category, t) for _, d, t in heap), key=lambda r: _rank(r[0], salt))
    return picked
