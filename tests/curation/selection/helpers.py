"""A deterministic bag-of-words embedder (no model load) and small real-text partitions for selection tests."""

import numpy as np
import pyarrow as pa

from curation.decontam.ngrams import tokens
from curation.document import DOC_SCHEMA
from curation.hashing import word_hashes

DIM = 64


def bow_embedder(texts: list[str]) -> np.ndarray:
    """Hashed bag of words: texts sharing words are close, unrelated texts near orthogonal."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for i, text in enumerate(texts):
        toks = tokens(text)
        if toks:
            np.add.at(out[i], (word_hashes(toks) % DIM).astype(np.int64), 1.0)
        else:
            out[i, 0] = 1.0
    return out / np.linalg.norm(out, axis=1, keepdims=True)


SCHEMA = pa.schema(list(DOC_SCHEMA) + [pa.field("lang", pa.string()), pa.field("ensemble_bucket", pa.int8()),
                                       pa.field("quality_bucket", pa.string())])


def table(rows: list[dict]) -> pa.Table:
    base = {"category": "c", "source_shard": "s", "source_line": 0, "meta": None, "lang": "en"}
    return pa.Table.from_pylist([{**base, **r} for r in rows], schema=SCHEMA)


def batches_of(tbl: pa.Table, size: int = 7):
    return lambda: tbl.to_batches(max_chunksize=size)
