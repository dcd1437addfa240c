"""Landing shards in the four input formats, byte-for-byte reproducible and written atomically.

Reproducible bytes matter: the new-shard sensor must see no change when the corpus is rebuilt,
so gzip gets a zero mtime and no file name, zstd a fixed level, and an unchanged shard is not
rewritten at all (its mtime stays too).
"""

import gzip
import io
import json
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from curation.sample_corpus.provenance import RECORD_FIELDS

# Shard i of a category is written in FORMATS[i % 4], so every category with four or more
# shards exercises every reader of the landing contract (DESIGN.md).
FORMATS = (".jsonl", ".jsonl.gz", ".parquet", ".jsonl.zst")
SHARD_PREFIX = "sample-"
_ZSTD_LEVEL = 10
_PARQUET_SCHEMA = pa.schema([pa.field(name, pa.string(), nullable=False) for name in RECORD_FIELDS])


def shard_name(index: int) -> str:
    return f"{SHARD_PREFIX}{index:05d}{FORMATS[index % len(FORMATS)]}"


def shard_format(name: str) -> str:
    return next(fmt for fmt in sorted(FORMATS, key=len, reverse=True) if name.endswith(fmt))


def encode_shard(records: list[dict[str, str]], fmt: str) -> bytes:
    if fmt == ".parquet":
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(records, schema=_PARQUET_SCHEMA), buffer, compression="zstd")
        return buffer.getvalue()
    jsonl = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    if fmt == ".jsonl":
        return jsonl
    if fmt == ".jsonl.gz":
        return gzip.compress(jsonl, compresslevel=6, mtime=0)
    if fmt == ".jsonl.zst":
        return zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress(jsonl)
    raise ValueError(f"unknown shard format {fmt!r}; expected one of {FORMATS}")


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` via temp file + rename unless ``path`` already holds exactly it; True if written."""
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # Dot-prefixed temp name: a landing scan that skips hidden files never sees a half-written shard.
    # Created with open(..., "xb"), not mkstemp, so the shard gets the user's umask, not mode 0600.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True
