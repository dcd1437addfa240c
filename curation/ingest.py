"""Incremental ingest of one category's landing shards into ``lake/raw/<category>/``.

Each shard becomes one parquet file named after the shard, so a shard is the unit of
incremental work: a shard whose content hash is already in the manifest is not read again,
a changed shard replaces its earlier rows, a shard that disappeared from landing has its
rows removed. Skipped records are written as DROP_SCHEMA rows to ``lake/drops/raw/``.
"""

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.document import DOC_SCHEMA, Drop, SkipCounter, drops_to_table, validate_category
from curation.lake import Lake, write_parquet_atomic
from curation.readers import DEFAULT_LIMITS, ReadLimits, list_shards, read_shard

STAGE = "raw"
MANIFEST_SCHEMA = pa.schema(
    [
        ("shard", pa.string()),
        ("content_hash", pa.string()),
        ("bytes", pa.int64()),
        ("docs", pa.int64()),
        ("chars", pa.int64()),
        ("skipped", pa.int64()),
        ("skipped_by_reason", pa.string()),
    ]
)


def file_hash(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def shard_file_stem(shard: str) -> str:
    """A flat, readable file stem for a shard path relative to its category folder."""
    digest = hashlib.blake2b(shard.encode(), digest_size=4).hexdigest()
    return f"{shard.replace('/', '__')}.{digest}"


@dataclass
class IngestResult:
    category: str
    shards_total: int = 0
    shards_new: int = 0
    shards_changed: int = 0
    shards_unchanged: int = 0
    shards_removed: int = 0
    docs_ingested: int = 0  # read in this run
    bytes_read: int = 0
    seconds: float = 0.0
    docs_total: int = 0  # in the partition after this run
    chars_total: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)  # whole partition
    skip_examples: list[dict] = field(default_factory=list)  # this run

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped_by_reason.values())

    @property
    def skipped_ratio(self) -> float:
        seen = self.docs_total + self.skipped_total
        return self.skipped_total / seen if seen else 0.0


def _manifest_path(lake: Lake, category: str) -> Path:
    return lake.state_dir(STAGE, category) / "manifest.parquet"


def load_manifest(lake: Lake, category: str) -> dict[str, dict]:
    path = _manifest_path(lake, category)
    if not path.exists():
        return {}
    return {row["shard"]: row for row in pq.read_table(path).to_pylist()}


def ingest_category(lake: Lake, category: str, limits: ReadLimits = DEFAULT_LIMITS) -> IngestResult:
    """Bring ``lake/raw/<category>`` in line with ``landing/<category>``, reading only what changed."""
    validate_category(category)
    started = time.perf_counter()
    landing_dir = lake.landing / category
    out_dir = lake.stage_dir(STAGE, category)
    drops_dir = lake.drops_dir(STAGE, category)
    manifest = load_manifest(lake, category)
    result = IngestResult(category=category)

    shards = {str(p.relative_to(landing_dir)): p for p in list_shards(landing_dir)}
    result.shards_total = len(shards)
    new_manifest: dict[str, dict] = {}
    for shard, path in shards.items():
        digest = file_hash(path)
        previous = manifest.get(shard)
        if previous is not None and previous["content_hash"] == digest:
            result.shards_unchanged += 1
            new_manifest[shard] = previous
            continue
        if previous is None:
            result.shards_new += 1
        else:
            result.shards_changed += 1
        new_manifest[shard] = _ingest_shard(path, category, shard, digest, out_dir, drops_dir, limits, result)

    for shard in set(manifest) - set(shards):  # shard deleted from landing: its rows go too
        result.shards_removed += 1
        stem = shard_file_stem(shard)
        (out_dir / f"{stem}.parquet").unlink(missing_ok=True)
        (drops_dir / f"{stem}.parquet").unlink(missing_ok=True)

    rows = sorted(new_manifest.values(), key=lambda r: r["shard"])
    write_parquet_atomic(_manifest_path(lake, category), pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA))
    for row in rows:
        result.docs_total += row["docs"]
        result.chars_total += row["chars"]
        for reason, n in json.loads(row["skipped_by_reason"]).items():
            result.skipped_by_reason[reason] = result.skipped_by_reason.get(reason, 0) + n
    result.seconds = time.perf_counter() - started
    return result


def _ingest_shard(
    path: Path,
    category: str,
    shard: str,
    digest: str,
    out_dir: Path,
    drops_dir: Path,
    limits: ReadLimits,
    result: IngestResult,
) -> dict:
    skips = SkipCounter(max_examples=10_000)
    stem = shard_file_stem(shard)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{stem}.parquet.tmp"
    docs = chars = 0
    with pq.ParquetWriter(tmp, DOC_SCHEMA, compression="zstd") as writer:
        for batch in read_shard(path, category, shard, skips, limits):
            writer.write_batch(batch)
            docs += batch.num_rows
            chars += pc.sum(pc.utf8_length(batch.column("text"))).as_py() or 0
    tmp.replace(out_dir / f"{stem}.parquet")

    drops = [
        Drop(
            doc_id=f"{shard}:{ex['line'] if ex['line'] is not None else '*'}",
            category=category,
            stage=STAGE,
            reason=ex["reason"],
            detail=ex["detail"] or None,
        )
        for ex in skips.examples
    ]
    drops_path = drops_dir / f"{stem}.parquet"
    if drops:
        write_parquet_atomic(drops_path, drops_to_table(drops))
    else:
        drops_path.unlink(missing_ok=True)

    result.docs_ingested += docs
    result.bytes_read += path.stat().st_size
    result.skip_examples.extend(skips.examples[: max(0, 20 - len(result.skip_examples))])
    return {
        "shard": shard,
        "content_hash": digest,
        "bytes": path.stat().st_size,
        "docs": docs,
        "chars": chars,
        "skipped": skips.total,
        "skipped_by_reason": json.dumps(skips.counts, sort_keys=True),
    }
