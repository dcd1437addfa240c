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

from curation.dedup.shingles import fmix64, is_cjk

# a run of letters/digits, or one CJK character (split out below)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_P = np.uint64(0x100000001B3)  # FNV-64 prime as the polynomial base


def tokens(text: str) -> list[str]:
    """Normalised tokens: lowercase NFKC words; each CJK character its own token."""
    out: list[str] = []
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).lower()):
        cps = np.frombuffer(word.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        cjk = is_cjk(cps)
        if not cjk.any():
            out.append(word)
            continue
        start = 0  # split "abc中文" into "abc", "中", "文"
        for i, flag in enumerate(cjk):
            if flag:
                if start < i:
                    out.append(word[start:i])
                out.append(word[i])
                start = i + 1
        if start < len(word):
            out.append(word[start:])
    return out


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
