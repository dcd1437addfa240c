"""The eval n-gram index: every n-gram of every evaluation text, sorted, with the item it came from.

Built once per eval content and cached on disk by a sha256 of (n, items): a re-run or the next
curriculum stage loads it instead of re-hashing the benchmarks. Lookup of a document is one
``np.searchsorted`` of its n-gram hashes. Memory: 12 bytes per distinct eval n-gram.

Overlap of a document with an eval item = shared n-grams / min(n-grams of the item, n-grams of the
document): 1.0 when a whole item is pasted into a long document, and also when a short document is
wholly inside a long held-out one. A document is contaminated when its best item's overlap reaches
the bound (``DecontamConfig.overlap_bound``).
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.decontam.ngrams import ngram_hashes, tokens

INDEX_VERSION = "1"


@dataclass(frozen=True)
class EvalItem:
    source: str  # e.g. "humaneval", "evalsets/my_bench.jsonl", "heldout"
    item_id: str
    text: str


@dataclass(frozen=True)
class Match:
    source: str
    item_id: str
    shared: int  # distinct n-grams shared with that item
    overlap: float  # shared / min(item n-grams, document n-grams)
    ngram: str  # the first shared n-gram, as normalised tokens

    def describe(self) -> str:
        return f"{self.source}:{self.item_id} overlap {self.overlap:.3g} ({self.shared} shared) ngram '{self.ngram}'"


class EvalIndex:
    def __init__(self, n: int, hashes: np.ndarray, item_of: np.ndarray, item_ngrams: np.ndarray,
                 labels: list[tuple[str, str]], skipped_short: int = 0):
        self.n, self.hashes, self.item_of, self.item_ngrams = n, hashes, item_of, item_ngrams
        self.labels, self.skipped_short = labels, skipped_short

    @classmethod
    def build(cls, items: Iterable[EvalItem], n: int) -> "EvalIndex":
        parts, owners, counts, labels, short = [], [], [], [], 0
        for item in items:
            h = np.unique(ngram_hashes(tokens(item.text), n))
            if h.size == 0:
                short += 1  # shorter than n tokens: cannot be matched at this n (reported, not hidden)
                continue
            parts.append(h)
            owners.append(np.full(h.size, len(labels), dtype=np.int32))
            counts.append(h.size)
            labels.append((item.source, item.item_id))
        if not parts:
            return cls(n, np.empty(0, np.uint64), np.empty(0, np.int32), np.empty(0, np.int64), [], short)
        hashes, item_of = np.concatenate(parts), np.concatenate(owners)
        # keep one owner per hash (the first item): lineage names one item, overlap is per that item
        order = np.lexsort((item_of, hashes))
        hashes, item_of = hashes[order], item_of[order]
        first = np.concatenate([[True], hashes[1:] != hashes[:-1]])
        return cls(n, hashes[first], item_of[first], np.asarray(counts, dtype=np.int64), labels, short)

    @property
    def num_items(self) -> int:
        return len(self.labels)

    @property
    def nbytes(self) -> int:
        return int(self.hashes.nbytes + self.item_of.nbytes + self.item_ngrams.nbytes)

    def match(self, text: str) -> Match | None:
        """The eval item this text overlaps most, or None when it shares no n-gram with any."""
        toks = tokens(text)
        doc = ngram_hashes(toks, self.n)
        if doc.size == 0 or self.hashes.size == 0:
            return None
        pos = np.searchsorted(self.hashes, doc)
        pos[pos == self.hashes.size] = 0
        hit = self.hashes[pos] == doc
        if not hit.any():
            return None
        distinct_doc = np.unique(doc).size
        hit_hashes = np.unique(doc[hit])
        owners = self.item_of[np.searchsorted(self.hashes, hit_hashes)]
        items, shared = np.unique(owners, return_counts=True)
        overlap = shared / np.minimum(self.item_ngrams[items], distinct_doc)
        best = int(np.argmax(overlap))
        item = int(items[best])
        # first position in the document that hit the best item, for the lineage
        positions = np.flatnonzero(hit)
        at = next(int(p) for p in positions if self.item_of[pos[p]] == item)
        source, item_id = self.labels[item]
        return Match(source, item_id, int(shared[best]), float(overlap[best]), " ".join(toks[at : at + self.n]))

    # -- cache -------------------------------------------------------------------------------
    @staticmethod
    def content_key(items: list[EvalItem], n: int) -> str:
        digest = hashlib.sha256(f"{INDEX_VERSION}\x1f{n}".encode())
        for item in items:
            digest.update(f"\x1e{item.source}\x1f{item.item_id}\x1f{item.text}".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:20]

    @classmethod
    def cached(cls, items: list[EvalItem], n: int, cache_dir: Path | None) -> tuple["EvalIndex", bool]:
        """The index of ``items``, loaded from ``cache_dir`` when built before; (index, was_cached)."""
        if cache_dir is None:
            return cls.build(items, n), False
        key = cls.content_key(items, n)
        arrays, meta = Path(cache_dir) / f"{key}.npz", Path(cache_dir) / f"{key}.json"
        if arrays.is_file() and meta.is_file():
            data, info = np.load(arrays), json.loads(meta.read_text(encoding="utf-8"))
            labels = [tuple(x) for x in info["labels"]]
            return cls(n, data["hashes"], data["item_of"], data["item_ngrams"], labels, info["skipped_short"]), True
        index = cls.build(items, n)
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        tmp = arrays.with_suffix(".tmp.npz")
        np.savez(tmp, hashes=index.hashes, item_of=index.item_of, item_ngrams=index.item_ngrams)
        tmp.replace(arrays)
        meta.write_text(json.dumps({"labels": index.labels, "skipped_short": index.skipped_short}), encoding="utf-8")
        return index, False
