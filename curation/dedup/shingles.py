"""Shingle hashes for a whole batch of documents at once, in numpy.

Rules (each tested):
- Word shingles are ``ngram`` consecutive words of the near-normalised text (single spaces between words).
- A document whose CJK share of non-space characters is >= ``cjk_share`` is shingled by characters:
  spaces are removed and every ``cjk_ngram`` consecutive characters form a shingle. Mixed text is decided
  by that share alone, so a Chinese article quoting English terms is still shingled by characters.
- A document with fewer tokens than one shingle becomes a single shingle: its whole near-normalised text.
- A huge document contributes only its first ``max_shingles`` shingles (counted in ``capped``).

A shingle's hash is a 64-bit polynomial (Horner) hash of its code points, mixed by the MurmurHash3 finalizer
and cut to 32 bits (``shingle_hash`` is the scalar reference, usable as a datasketch ``hashfunc``). The batch
version gets every shingle's polynomial hash from one prefix sum over the concatenated code points:
``hash(s, e) = (S[e] - S[s]) * P^(e-1)`` with ``S[k] = sum_{j<k} c_j * P^-j`` (mod 2^64; P is odd, so
invertible), so no Python code runs per token or per shingle.
"""

from dataclasses import dataclass

import numpy as np

from curation.cjk import is_cjk_code_point
from curation.dedup.config import DedupConfig

_P = 0x100000001B3  # FNV-1 64-bit prime: odd, so it has an inverse mod 2^64
_P_INV = pow(_P, -1, 1 << 64)
_MASK64 = (1 << 64) - 1

_SPACE = np.uint32(32)


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 64-bit finalizer (a bijection that spreads the polynomial hash's bits)."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def shingle_hash(shingle: str) -> int:
    """Scalar reference of the batch hash: pass as ``hashfunc`` to ``datasketch.MinHash`` (strings, not bytes)."""
    h = 0
    for ch in shingle:
        h = (h * _P + ord(ch)) & _MASK64
    return int(fmix64(np.array([h], dtype=np.uint64))[0] >> np.uint64(32))


is_cjk = is_cjk_code_point  # one CJK definition for scoring and dedup (curation/cjk.py)


def shingle_strings(near_text: str, config: DedupConfig) -> list[str]:
    """Scalar reference of the shingling rules (tests and explanations; the stage uses ``shingle_batch``)."""
    cps = np.frombuffer(near_text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    non_space = int((cps != _SPACE).sum())
    if non_space and is_cjk(cps).sum() >= config.cjk_share * non_space:
        tokens, n, sep = list(near_text.replace(" ", "")), config.cjk_ngram, ""
    else:
        tokens, n, sep = near_text.split(" "), config.ngram, " "
    if len(tokens) < n:
        return [sep.join(tokens)]
    return [sep.join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)][: config.max_shingles]


class _Powers:
    """P^k and P^-k mod 2^64 for k < n, grown on demand (shared by every batch)."""

    def __init__(self) -> None:
        self.pow = np.ones(1, dtype=np.uint64)
        self.inv = np.ones(1, dtype=np.uint64)

    def ensure(self, n: int) -> None:
        if len(self.pow) >= n:
            return
        n = max(n, 2 * len(self.pow))
        self.pow = _cumpow(_P, n)
        self.inv = _cumpow(_P_INV, n)


def _cumpow(base: int, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.uint64)
    out[0] = 1
    out[1:] = np.cumprod(np.full(n - 1, base, dtype=np.uint64))  # uint64 arithmetic wraps: mod 2^64
    return out


_POWERS = _Powers()


@dataclass
class BatchShingles:
    hashes: np.ndarray  # uint32, all shingles of the batch, grouped by document in input order
    offsets: np.ndarray  # int64, len n_docs + 1: document d owns hashes[offsets[d]:offsets[d + 1]]
    char_mode: np.ndarray  # bool per document: shingled by characters (CJK rule)
    capped: np.ndarray  # bool per document: more than max_shingles shingles, tail ignored


def shingle_texts(near_texts: list[str], config: DedupConfig) -> BatchShingles:
    """``shingle_batch`` for a list of near-normalised strings (tests, small inputs)."""
    lengths = np.fromiter(map(len, near_texts), dtype=np.int64, count=len(near_texts))
    return shingle_batch(np.frombuffer("".join(near_texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32),
                         lengths, config)


def shingle_batch(cps: np.ndarray, lengths: np.ndarray, config: DedupConfig) -> BatchShingles:
    """Shingle hashes of every document in one vectorised pass.

    ``cps`` are the concatenated code points of the near-normalised texts, ``lengths`` their lengths (>= 1).
    """
    n_docs = len(lengths)
    doc_of = np.repeat(np.arange(n_docs), lengths)
    space = cps == _SPACE
    non_space = lengths - np.bincount(doc_of[space], minlength=n_docs)
    cjk = np.bincount(doc_of[is_cjk(cps)], minlength=n_docs)
    char_mode = (non_space > 0) & (cjk >= config.cjk_share * non_space)

    # Character-mode documents lose their spaces, so each character is a token and shingles are contiguous.
    keep = ~(space & char_mode[doc_of])
    cps, doc_of, space = cps[keep], doc_of[keep], space[keep]
    total = len(cps)
    doc_start = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(doc_of, minlength=n_docs), out=doc_start[1:])

    first = np.zeros(total, dtype=bool)
    first[doc_start[:-1]] = True
    last = np.zeros(total, dtype=bool)
    last[doc_start[1:] - 1] = True
    char_pos = char_mode[doc_of]
    prev_space = np.concatenate(([True], space[:-1]))
    next_space = np.concatenate((space[1:], [True]))
    tok_start = np.flatnonzero(~space & (char_pos | first | prev_space))
    tok_end = np.flatnonzero(~space & (char_pos | last | next_space)) + 1
    tok_doc = doc_of[tok_start]
    if len(np.unique(tok_doc)) != n_docs:
        raise ValueError("shingle_batch needs texts with at least one non-space character (empty ones are dropped)")

    n_tok = len(tok_start)
    span = np.where(char_mode[tok_doc], config.cjk_ngram, config.ngram) - 1
    last_tok = np.arange(n_tok) + span
    valid = last_tok < n_tok
    valid[valid] = tok_doc[last_tok[valid]] == tok_doc[valid]
    starts, ends, docs = tok_start[valid], tok_end[last_tok[valid]], tok_doc[valid]

    # Shorter than one shingle: the whole text is the one shingle.
    short = np.bincount(docs, minlength=n_docs) == 0
    if short.any():
        short_docs = np.flatnonzero(short)
        first_tok = np.searchsorted(tok_doc, short_docs, side="left")
        last_tok_of = np.searchsorted(tok_doc, short_docs, side="right") - 1
        starts = np.concatenate((starts, tok_start[first_tok]))
        ends = np.concatenate((ends, tok_end[last_tok_of]))
        docs = np.concatenate((docs, short_docs))
        order = np.argsort(docs, kind="stable")
        starts, ends, docs = starts[order], ends[order], docs[order]

    counts = np.bincount(docs, minlength=n_docs)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    capped = counts > config.max_shingles
    if capped.any():
        rank = np.arange(len(docs)) - offsets[docs]
        sel = rank < config.max_shingles
        starts, ends, docs = starts[sel], ends[sel], docs[sel]
        counts = np.minimum(counts, config.max_shingles)
        np.cumsum(counts, out=offsets[1:])

    _POWERS.ensure(total + 1)
    prefix = np.zeros(total + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum(cps.astype(np.uint64) * _POWERS.inv[:total], out=prefix[1:])
        poly = (prefix[ends] - prefix[starts]) * _POWERS.pow[ends - 1]
        hashes = (fmix64(poly) >> np.uint64(32)).astype(np.uint32)
    return BatchShingles(hashes=hashes, offsets=offsets, char_mode=char_mode, capped=capped)
