"""Stable hashes: the one place the project turns bytes, ids and words into digests.

Everything persisted or compared across processes (manifests, ids, samples, splits, n-gram
statistics) hashes through here, never through Python's ``hash()``, which is salted per
process (PYTHONHASHSEED) and would make a rule keep a document in one run and drop it in the
next. blake2b is used for short digests (fast, any digest size); sha256 for file digests,
the checksum users compare with ``sha256sum``.
"""

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_CHUNK = 1 << 20
_SEP = "\x1f"  # unit separator: joins salt parts so ("a", "bc") and ("ab", "c") never collide


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (memory stays flat for any file size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def short_digest(text: str, n_bytes: int = 8) -> str:
    """Hex blake2b of ``text`` with ``n_bytes`` bytes (2 * n_bytes hex characters)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=n_bytes).hexdigest()


def hash_bytes(key: str, *salt: str) -> bytes:
    """8 bytes fixed by (salt..., key): the rank of ``key`` in a salted order."""
    payload = _SEP.join([*salt, key]) if salt else key
    return hashlib.blake2b(payload.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def unit_hash(key: str, *salt: str) -> float:
    """A uniform number in [0, 1) fixed by (salt..., key): independent for different salts,
    the same on every machine and in every process (samples, splits, selections)."""
    return int.from_bytes(hash_bytes(key, *salt), "big") / 2**64


# Word hashes are cached: a corpus reuses a few hundred thousand words, so a dict lookup
# replaces most blake2b calls and the n-gram statistics stay as fast as with ``hash()``.
_WORD_CACHE: dict[str, int] = {}
_WORD_CACHE_MAX = 1 << 20


def _word_hash(word: str) -> int:
    value = _WORD_CACHE.get(word)
    if value is None:
        if len(_WORD_CACHE) >= _WORD_CACHE_MAX:
            _WORD_CACHE.clear()
        value = int.from_bytes(
            hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
        _WORD_CACHE[word] = value
    return value


def word_hashes(words: Sequence[str]) -> np.ndarray:
    """uint64 hash per word, stable across processes (the input of n-gram repetition rules)."""
    return np.fromiter(map(_word_hash, words), dtype=np.uint64, count=len(words))


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's output function (Steele, Lea & Flood 2014) on uint64 values: a fixed bijection of 64-bit
    integers that spreads small ones (a document's word numbers) over all 64 bits, the same everywhere."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))
