"""Text normalisation for exact and near-duplicate matching, per batch in numpy, and the exact-duplicate hash.

Exact text: NFKC, lowercased (if configured), whitespace runs collapsed to one space, trimmed.
Near text: the exact text with punctuation and symbols (anything not a letter, digit or combining mark)
turned into spaces, if configured. Rule: a document made only of punctuation keeps its exact text, so it
still has something to shingle. A document whose exact text is empty is reported as empty.

NFKC, lowercasing and whitespace collapsing are C calls per document; punctuation is classified and
blanked on the code points of the whole batch at once (~5x faster than ``re.sub`` per document).
"""

import hashlib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from curation.dedup.config import DedupConfig

_SPACE, _WORD, _PUNCT = 0, 1, 2


@lru_cache(maxsize=1)
def _char_classes() -> np.ndarray:
    """Class of every BMP code point: space (str.isspace), word (letter, digit, mark), or punctuation."""
    classes = np.full(0x10000, _WORD, dtype=np.uint8)
    for cp in range(0x10000):
        ch = chr(cp)
        if ch.isspace():
            classes[cp] = _SPACE
        elif unicodedata.category(ch)[0] not in "LNM":
            classes[cp] = _PUNCT
    return classes


def _classify(cps: np.ndarray) -> np.ndarray:
    out = np.full(cps.shape, _WORD, dtype=np.uint8)  # astral planes: CJK extensions, historic scripts, emoji
    bmp = cps < 0x10000
    out[bmp] = _char_classes()[cps[bmp]]
    return out


def _prepare(text: str, config: DedupConfig) -> str:
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text.lower() if config.lowercase else text


def normalize_exact(text: str, config: DedupConfig) -> str:
    """Scalar reference of the exact text (tests, explanations); the stage uses ``normalize_batch``."""
    return " ".join(_prepare(text, config).split())


def normalize_near(text: str, config: DedupConfig) -> str:
    """Scalar reference of the near text."""
    exact = normalize_exact(text, config)
    if not config.strip_punctuation:
        return exact
    cps = _encode(exact)
    near = "".join(" " if c == _PUNCT else ch for ch, c in zip(exact, _classify(cps)))
    return " ".join(near.split()) or exact


def _encode(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


@dataclass
class NormalizedBatch:
    exact_hashes: list[bytes]  # 16-byte digest of each exact text (b"" for empty documents)
    empty: np.ndarray  # bool: exact text is empty (whitespace only)
    exact_lengths: np.ndarray  # int64 characters of each exact text (the survivor rule's "longest")
    near_cps: np.ndarray  # uint32 code points of the near texts of non-empty documents, concatenated; a near
    near_lengths: np.ndarray  # text may keep one leading/trailing space (shingles never include them)


def exact_hash(exact_text: str) -> bytes:
    """128-bit digest of an exact text (collision odds ~1e-20 at a billion documents)."""
    return hashlib.blake2b(exact_text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def normalize_batch(texts: list[str], config: DedupConfig) -> NormalizedBatch:
    exact = [normalize_exact(t, config) for t in texts]  # str.split/join run in C at ~45 MB/s
    exact_lengths = np.fromiter(map(len, exact), dtype=np.int64, count=len(exact))
    empty = exact_lengths == 0
    hashes = [exact_hash(t) if t else b"" for t in exact]
    kept = [t for t in exact if t]
    lengths = np.fromiter(map(len, kept), dtype=np.int64, count=len(kept))
    cps = _encode("".join(kept))
    if config.strip_punctuation and len(cps):
        doc_of = np.repeat(np.arange(len(kept)), lengths)
        classes = _classify(cps)
        words_per_doc = np.bincount(doc_of[classes == _WORD], minlength=len(kept))
        # punctuation becomes space, except in punctuation-only documents (they keep their exact text)
        blank = (classes == _PUNCT) & (words_per_doc > 0)[doc_of]
        space = blank | (classes == _SPACE)
        keep = ~space | np.concatenate(([True], ~space[:-1]))  # one space per run
        cps = np.where(blank, np.uint32(32), cps)[keep]
        lengths = np.bincount(doc_of[keep], minlength=len(kept)).astype(np.int64)
    return NormalizedBatch(exact_hashes=hashes, empty=empty, exact_lengths=exact_lengths, near_cps=cps, near_lengths=lengths)
