"""Word n-grams (characters for CJK) as 64-bit hashes, vectorised with numpy.

Normalisation follows the GPT-3 / lm-eval-harness decontamination recipe: lowercase, NFKC,
punctuation and whitespace dropped, so an eval item pasted with different spacing, casing or
quotes still matches. A CJK character is one token (Chinese has no spaces; as in the dedup
shingles, ``curation.dedup.shingles.is_cjk`` decides what is CJK). A token's hash is
blake2b (stable across processes, never Python's ``hash``); an n-gram's hash is a polynomial of
its token hashes, finalised by MurmurHash3's fmix64.
"""

import hashlib
import re
import unicodedata
from functools import lru_cache

import numpy as np

from curation.cjk import CJK_CLASS
from curation.dedup.shingles import fmix64

_P = np.uint64(0x100000001B3)  # FNV-64 prime as the polynomial base
# one regex pass: a CJK character alone, or a run of letters/digits that are not CJK. The ranges
# are curation/cjk.py's (one CJK definition in the project)
_CJK = CJK_CLASS
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")


def tokens(text: str) -> list[str]:
    """Normalised tokens: lowercase NFKC words; each CJK character its own token."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


@lru_cache(maxsize=1 << 20)
def _token_hash(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")


def ngram_hashes(toks: list[str], n: int) -> np.ndarray:
    """uint64 hash of every n-gram of ``toks`` in order (empty when fewer than n tokens)."""
    if len(toks) < n:
        return np.empty(0, dtype=np.uint64)
    h = np.fromiter((_token_hash(t) for t in toks), dtype=np.uint64, count=len(toks))
    m = len(toks) - n + 1
    acc = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):  # wrapping uint64 arithmetic: sum_k h[i+k] * P^(n-1-k)
            acc = acc * _P + h[k : k + m]
        return fmix64(acc)
