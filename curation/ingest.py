"""Incremental ingest of one category's landing shards into ``lake/raw/<category>/``.

Each shard becomes one parquet file named after the shard, so a shard is the unit of
incremental work: a shard whose content hash is already in the manifest is not read again,
a changed shard replaces its earlier rows, a shard that disappeared from landing has its
rows removed. What could not be read is written as DROP_SCHEMA rows to ``lake/drops/raw/``
(and indexed in the catalog's drop ledger) and counted as lost data: documents where they can
be counted, input bytes where they cannot, and truncated files, whose loss cannot be measured.
A run holds the partition's lock (a second run of the category waits or is refused) and
first removes what a killed run left behind. Each finished shard leaves a completion marker (its manifest
row) in ``state/raw/<category>/done/``, so a killed run resumes after its last completed shard instead of
reading every shard again; the markers are folded into the manifest at the end of the run. With an engine
(``curation.compute``), the shards are parsed as engine tasks (Ray tasks with ``ray``), one per shard.
"""

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.compute import Engine, LocalEngine
from curation.document import DOC_SCHEMA, Drop, SkipCounter, drops_to_table, validate_category
from curation.hashing import file_sha256, short_digest
from curation.lake import PARTITION_LOCK_TIMEOUT_S, Lake, index_drops, write_parquet_atomic, write_text_atomic
from curation.readers import DEFAULT_LIMITS, ReadLimits, read_shard, scan_landing

STAGE = "raw"
MANIFEST_SCHEMA = pa.schema(
    [
        ("shard", pa.string()),
        ("content_hash", pa.string()),
        ("bytes", pa.int64()),
        ("docs", pa.int64()),
        ("chars", pa.int64()),
        ("skipped", pa.int64()),  # documents lost
        ("skipped_by_reason", pa.string()),
        ("lost_bytes_by_reason", pa.string()),  # input bytes lost where documents cannot be counted
        ("unbounded_losses", pa.string()),  # JSON list: truncated files, loss not measurable
    ]
)


def shard_file_stem(shard: str) -> str:
    """A flat, readable file stem for a shard path relative to its category folder."""
    return f"{shard.replace('/', '__')}.{short_digest(shard, 4)}"


@dataclass
class IngestResult:
    category: str
    shards_total: int = 0
    shards_new: int = 0
    shards_changed: int = 0
    shards_unchanged: int = 0
    shards_removed: int = 0
    shards_resumed: int = 0  # completed by a run that was killed before writing the manifest
    docs_ingested: int = 0  # read in this run
    bytes_read: int = 0
    seconds: float = 0.0
    docs_total: int = 0  # in the partition after this run
    chars_total: int = 0
    bytes_total: int = 0  # input bytes of every shard of the partition
    skipped_by_reason: dict[str, int] = field(default_factory=dict)  # documents lost, whole partition
    lost_bytes_by_reason: dict[str, int] = field(default_factory=dict)  # bytes lost, whole partition
    unbounded_losses: list[dict] = field(default_factory=list)  # truncated files, whole partition
    skip_examples: list[dict] = field(default_factory=list)  # this run
    ignored_files: list[tuple[str, str]] = field(default_factory=list)  # (path, reason), this run
    stale_leftovers_removed: list[str] = field(default_factory=list)

    @property
    def skipped_total(self) -> int:
        """Documents lost (bad lines, unreadable row groups, cut records)."""
        return sum(self.skipped_by_reason.values())

    @property
    def lost_bytes(self) -> int:
        return sum(self.lost_bytes_by_reason.values())

    @property
    def skipped_ratio(self) -> float:
        """Documents lost over documents seen (kept + lost)."""
        seen = self.docs_total + self.skipped_total
        return self.skipped_total / seen if seen else 0.0

    @property
    def lost_bytes_ratio(self) -> float:
        """Input bytes that yielded nothing (damaged stream stretches, unreadable files) over all input bytes."""
        return self.lost_bytes / self.bytes_total if self.bytes_total else 0.0


def _manifest_path(lake: Lake, category: str) -> Path:
    return lake.state_dir(STAGE, category) / "manifest.parquet"


def load_manifest(lake: Lake, category: str) -> dict[str, dict]:
    path = _manifest_path(lake, category)
    if not path.exists():
        return {}
    return {row["shard"]: row for row in pq.read_table(path).to_pylist()}


def _markers_dir(lake: Lake, category: str) -> Path:
    return lake.state_dir(STAGE, category) / "done"


def ingest_category(lake: Lake, category: str, limits: ReadLimits = DEFAULT_LIMITS,
                    follow_links_outside_landing: bool = False,
                    lock_timeout_s: float = PARTITION_LOCK_TIMEOUT_S, engine: Engine | None = None) -> IngestResult:
    """Bring ``lake/raw/<category>`` in line with ``landing/<category>``, reading only what changed."""
    validate_category(category)
    with lake.partition_lock(STAGE, category, lock_timeout_s):
        result = IngestResult(category=category, stale_leftovers_removed=lake.remove_stale_leftovers(STAGE, category))
        _ingest_locked(lake, category, limits, follow_links_outside_landing, result, engine or LocalEngine())
        index_drops(lake, STAGE, category)
    return result


def _ingest_locked(lake: Lake, category: str, limits: ReadLimits, follow_links: bool, result: IngestResult,
                   engine: Engine) -> None:
    started = time.perf_counter()
    landing_dir = lake.landing_dir(category)
    out_dir = lake.stage_dir(STAGE, category)
    drops_dir = lake.drops_dir(STAGE, category)
    manifest = load_manifest(lake, category)

    scan = scan_landing(landing_dir, lake.landing, follow_links)
    result.ignored_files = scan.ignored
    shards = {str(p.relative_to(landing_dir)): p for p in scan.shards}
    result.shards_total = len(shards)
    new_manifest: dict[str, dict] = {}
    markers = _markers_dir(lake, category)
    todo = []
    for shard, path in shards.items():
        digest = file_sha256(path)
        previous = manifest.get(shard)
        if previous is not None and previous["content_hash"] == digest:
            result.shards_unchanged += 1
            new_manifest[shard] = previous
            continue
        if previous is None:
            result.shards_new += 1
        else:
            result.shards_changed += 1
        done = _completed(markers, shard, digest, out_dir)
        if done is not None:  # parsed by a run that was killed before it wrote the manifest
            result.shards_resumed += 1
            new_manifest[shard] = done
        else:
            todo.append((str(path), shard, digest))
    for row, docs, size, examples in engine.map_items(_ingest_shard_task, todo, category=category,
                                                       out_dir=str(out_dir), drops_dir=str(drops_dir),
                                                       markers=str(markers), limits=limits):
        new_manifest[row["shard"]] = row
        result.docs_ingested += docs
        result.bytes_read += size
        result.skip_examples.extend(examples[: max(0, 20 - len(result.skip_examples))])

    for shard in set(manifest) - set(shards):  # shard deleted from landing: its rows go too
        result.shards_removed += 1
        stem = shard_file_stem(shard)
        (out_dir / f"{stem}.parquet").unlink(missing_ok=True)
        (drops_dir / f"{stem}.parquet").unlink(missing_ok=True)

    rows = sorted(new_manifest.values(), key=lambda r: r["shard"])
    write_parquet_atomic(_manifest_path(lake, category), pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA))
    for marker in markers.glob("*.json"):  # folded into the manifest
        marker.unlink(missing_ok=True)
    for row in rows:
        result.docs_total += row["docs"]
        result.chars_total += row["chars"]
        result.bytes_total += row["bytes"]
        _add_counts(result.skipped_by_reason, row["skipped_by_reason"])
        _add_counts(result.lost_bytes_by_reason, row.get("lost_bytes_by_reason"))
        result.unbounded_losses += json.loads(row.get("unbounded_losses") or "[]")
    result.seconds = time.perf_counter() - started


def _completed(markers: Path, shard: str, digest: str, out_dir: Path) -> dict | None:
    """The manifest row a killed run left for this shard, if it finished this very content."""
    marker = markers / f"{shard_file_stem(shard)}.json"
    if not marker.is_file() or not (out_dir / f"{shard_file_stem(shard)}.parquet").is_file():
        return None
    try:
        row = json.loads(marker.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return row if row.get("content_hash") == digest and row.get("shard") == shard else None


def _ingest_shard_task(item: tuple[str, str, str], category: str, out_dir: str, drops_dir: str, markers: str,
                       limits: ReadLimits) -> tuple[dict, int, int, list[dict]]:
    """Parse one shard (an engine task: in this process, or a Ray task); leave its completion marker.
    Returns (manifest row, documents read, bytes read, skip examples)."""
    path, shard, digest = item
    partial = IngestResult(category=category)
    row = _ingest_shard(Path(path), category, shard, digest, Path(out_dir), Path(drops_dir), limits, partial)
    write_text_atomic(Path(markers) / f"{shard_file_stem(shard)}.json", json.dumps(row, sort_keys=True))
    return row, partial.docs_ingested, partial.bytes_read, partial.skip_examples


def _add_counts(total: dict[str, int], encoded: str | None) -> None:
    for reason, n in json.loads(encoded or "{}").items():
        total[reason] = total.get(reason, 0) + n


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
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=out_dir)  # unique: never shared by two runs
    os.close(fd)
    docs = chars = 0
    try:
        with pq.ParquetWriter(tmp, DOC_SCHEMA, compression="zstd") as writer:  # no batch: no row group
            for batch in read_shard(path, category, shard, skips, limits):
                writer.write_batch(batch)
                docs += batch.num_rows
                chars += pc.sum(pc.utf8_length(batch.column("text"))).as_py() or 0
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_dir / f"{stem}.parquet")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

    drops = [
        Drop(
            doc_id=f"{shard}:{ex['line'] if ex['line'] is not None else '*'}",
            category=category,
            stage=STAGE,
            reason=ex["reason"],
            detail=_drop_detail(ex),
        )
        for ex in skips.examples
    ]
    drops_path = drops_dir / f"{stem}.parquet"
    if drops:
        write_parquet_atomic(drops_path, drops_to_table(drops))
    else:
        drops_path.unlink(missing_ok=True)

    size = path.stat().st_size
    result.docs_ingested += docs
    result.bytes_read += size
    result.skip_examples.extend(_by_weight(skips.examples)[: max(0, 20 - len(result.skip_examples))])
    return {
        "shard": shard,
        "content_hash": digest,
        "bytes": size,
        "docs": docs,
        "chars": chars,
        "skipped": skips.total,
        "skipped_by_reason": json.dumps(skips.counts, sort_keys=True),
        "lost_bytes_by_reason": json.dumps(skips.lost_bytes, sort_keys=True),
        "unbounded_losses": json.dumps([{"file": e["file"], "reason": e["reason"], "detail": e["detail"]}
                                        for e in skips.unbounded]),
    }


def _drop_detail(example: dict) -> str | None:
    """The drop record's detail: the reader's explanation plus what it cost, when that is not one document."""
    cost = []
    if example.get("docs", 1) not in (0, 1):
        cost.append(f"{example['docs']} documents lost")
    if example.get("bytes"):
        cost.append(f"{example['bytes']} input bytes lost")
    text = "; ".join(p for p in [example["detail"] or "", *cost] if p)
    return text or None


def _by_weight(examples: list[dict]) -> list[dict]:
    """File-level losses first (they cost the most), then line skips in file order."""
    return sorted(examples, key=lambda e: (e["line"] is not None and e.get("docs", 1) == 1, e["line"] or 0))
