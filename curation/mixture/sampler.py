"""Deterministic held-out split and token-budget sampling per category: pure functions, no I/O.

Every decision is a function of (seed, document id), never of input order or of which
machine ran it, so a re-run gives the same mixture and the held-out set is stable.
"""

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from curation.hashing import unit_hash as stable_unit_hash


def unit_hash(doc_id: str, seed: int, purpose: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, purpose, id); different purposes are independent."""
    return stable_unit_hash(doc_id, str(seed), purpose)


class HeldoutSelector:
    """Streams a category's documents and keeps the held-out ones, memory bounded by ``max_docs``.

    The held-out set is the ``n`` documents with the smallest ``unit_hash(id, seed, "heldout")``,
    where ``n`` = documents hashed below ``fraction``, clamped to ``[min_docs, max_docs]`` and to
    ``docs - 1`` (a category always keeps one training document).
    """

    def __init__(self, fraction: float, min_docs: int, max_docs: int, seed: int):
        self.fraction, self.min_docs, self.max_docs, self.seed = fraction, min_docs, max_docs, seed
        self._heap: list[tuple[float, str, object]] = []  # max-heap on hash via negation
        self._below_fraction = 0
        self.docs_seen = 0

    def offer(self, doc_id: str, payload: object = None) -> None:
        u = unit_hash(doc_id, self.seed, "heldout")
        self.docs_seen += 1
        self._below_fraction += u < self.fraction
        if self.max_docs == 0:
            return
        item = (-u, doc_id, payload)
        if len(self._heap) < self.max_docs:
            heapq.heappush(self._heap, item)
        elif -u > self._heap[0][0]:
            heapq.heapreplace(self._heap, item)

    @property
    def count(self) -> int:
        wanted = min(max(self._below_fraction, self.min_docs), self.max_docs)
        return max(0, min(wanted, self.docs_seen - 1))

    def selected(self) -> list[tuple[str, object]]:
        """(id, payload) of the held-out documents, smallest hash first."""
        ranked = sorted(self._heap, key=lambda item: (-item[0], item[1]))
        return [(doc_id, payload) for _, doc_id, payload in ranked[: self.count]]


def select_heldout(doc_ids: list[str], fraction: float, min_docs: int, max_docs: int, seed: int) -> set[str]:
    selector = HeldoutSelector(fraction, min_docs, max_docs, seed)
    for doc_id in doc_ids:
        selector.offer(doc_id)
    return {doc_id for doc_id, _ in selector.selected()}


def allocate_targets(shares: dict[str, float], total_tokens: int) -> dict[str, int]:
    """Integer token targets proportional to ``shares`` that sum exactly to ``total_tokens``
    (largest-remainder rounding, ties broken by name so the result is deterministic)."""
    total_share = sum(shares.values())
    exact = {c: total_tokens * s / total_share for c, s in shares.items()}
    targets = {c: math.floor(v) for c, v in exact.items()}
    short = total_tokens - sum(targets.values())
    for c in sorted(exact, key=lambda c: (targets[c] - exact[c], c))[:short]:
        targets[c] += 1
    return targets


@dataclass(frozen=True)
class CategoryPlan:
    """How one category fills its target: ``full_epochs`` passes over every training document,
    then a prefix of ``order`` (the remainder), whose last document may be cut to fit exactly."""

    category: str
    available_tokens: int
    target_tokens: int
    order: np.ndarray  # indices into the category's training documents, sampling order
    full_epochs: int
    remainder_docs: int  # whole documents taken from the front of ``order`` after the full epochs
    remainder_cut_tokens: int  # tokens taken from order[remainder_docs] (0: none)

    @property
    def repeat_factor(self) -> float:
        """Tokens trained / tokens available: > 1 is upsampling, < 1 subsampling."""
        return self.target_tokens / self.available_tokens if self.available_tokens else 0.0

    def occurrences(self, n_tokens: np.ndarray) -> Iterator[tuple[int, int, int]]:
        """(document index, repeat index, tokens taken) for every sequence to write, in order."""
        for epoch in range(self.full_epochs):
            for i in self.order:
                yield int(i), epoch, int(n_tokens[i])
        for i in self.order[: self.remainder_docs]:
            yield int(i), self.full_epochs, int(n_tokens[i])
        if self.remainder_cut_tokens:
            yield int(self.order[self.remainder_docs]), self.full_epochs, self.remainder_cut_tokens


def sampling_key(doc_id: str, seed: int, weight: float = 1.0) -> float:
    """Order key of weighted sampling without replacement (Efraimidis & Spirakis 2006, A-ES):
    -ln(u) / w, ascending; with every weight 1 it is the plain hash order."""
    u = unit_hash(doc_id, seed, "sample")
    return -math.log1p(-u) / weight  # log1p(-u) = ln(1 - u): u may be 0, never 1


def plan_category(
    category: str,
    doc_ids: list[str],
    n_tokens: np.ndarray,
    target_tokens: int,
    seed: int,
    weights: list[float] | None = None,
) -> CategoryPlan:
    """Upsample (whole epochs + a deterministic remainder) or subsample one category to exactly
    ``target_tokens`` tokens. Documents are ordered by ``sampling_key`` (``weights``: a per-document
    sampling weight > 0, e.g. the selection stage's ``sample_weight``; a subsample then favours
    heavier documents in proportion)."""
    n_tokens = np.asarray(n_tokens, dtype=np.int64)
    available = int(n_tokens.sum())
    if target_tokens > 0 and available == 0:
        raise ValueError(f"category {category!r} has a target of {target_tokens} tokens but no training tokens")
    keys = [sampling_key(d, seed, 1.0 if weights is None else weights[i]) for i, d in enumerate(doc_ids)]
    order = np.array(sorted(range(len(doc_ids)), key=lambda i: (keys[i], doc_ids[i])), dtype=np.int64)
    full_epochs, remainder = divmod(target_tokens, available) if available else (0, 0)
    cumulative = np.cumsum(n_tokens[order])
    # documents wholly inside the remainder, then a cut of the next one for the rest
    whole = int(np.searchsorted(cumulative, remainder, side="right"))
    taken = int(cumulative[whole - 1]) if whole else 0
    return CategoryPlan(
        category=category,
        available_tokens=available,
        target_tokens=target_tokens,
        order=order,
        full_epochs=int(full_epochs),
        remainder_docs=whole,
        remainder_cut_tokens=int(remainder - taken),
    )
