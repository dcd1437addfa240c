"""Read landing shards into DOC_SCHEMA record batches, skipping bad records with a reason.

Formats: ``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst``, ``.parquet``. JSON lines are read as raw
bytes with a bounded ``readline`` so one absurdly long line never has to fit in memory, and
each line is decoded strictly so invalid UTF-8 is reported, not silently replaced. Every
skipped record is counted by reason with its file and line (``SkipCounter``).
"""

import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curation.document import DOC_SCHEMA, SkipCounter, derive_doc_id

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst")
SHARD_SUFFIXES = (*JSONL_SUFFIXES, ".parquet")
_RESERVED = {"id", "text"}


@dataclass(frozen=True)
class ReadLimits:
    # 8 MiB of text is far beyond any real document (FineWeb caps pages well below this);
    # a bigger record is a broken dump and would stall every downstream stage.
    max_record_bytes: int = 8 * 1024 * 1024
    batch_size: int = 2048


DEFAULT_LIMITS = ReadLimits()


def is_shard(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.name.endswith(SHARD_SUFFIXES)


def list_shards(category_dir: Path) -> list[Path]:
    """Shards of one category folder (recursively), sorted; hidden and temp files ignored."""
    if not category_dir.is_dir():
        return []
    return sorted(p for p in category_dir.rglob("*") if is_shard(p))


def _open_binary(path: Path) -> io.BufferedIOBase:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.name.endswith(".zst"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True))
    return open(path, "rb")


def _read_lines(fh: io.BufferedIOBase, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """Yield (line_no, line) with line None when it exceeded ``limit`` (its bytes are drained)."""
    line_no = 0
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        line_no += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while True:  # drain the rest of the oversized line in bounded chunks
                rest = fh.readline(limit)
                if not rest or rest.endswith(b"\n"):
                    break
            yield line_no, None
            continue
        yield line_no, line


class _BatchBuilder:
    def __init__(self, category: str, shard_name: str):
        self.category = category
        self.shard_name = shard_name
        self.cols: dict[str, list] = {name: [] for name in DOC_SCHEMA.names}

    def __len__(self) -> int:
        return len(self.cols["id"])

    def add(self, record: dict, line: int) -> None:
        given = record.get("id")
        doc_id = str(given) if given not in (None, "") else derive_doc_id(self.category, self.shard_name, line)
        meta = {k: v for k, v in record.items() if k not in _RESERVED}
        self.cols["id"].append(doc_id)
        self.cols["text"].append(record["text"])
        self.cols["category"].append(self.category)
        self.cols["source_shard"].append(self.shard_name)
        self.cols["source_line"].append(line)
        self.cols["meta"].append(json.dumps(meta, ensure_ascii=False, default=str) if meta else None)

    def flush(self) -> pa.RecordBatch:
        batch = pa.RecordBatch.from_pydict(self.cols, schema=DOC_SCHEMA)
        self.cols = {name: [] for name in DOC_SCHEMA.names}
        return batch


def _validate_record(record: object, limits: ReadLimits) -> str | None:
    """The skip reason for a decoded record, or None when it is a usable document."""
    if not isinstance(record, dict):
        return "not_an_object"
    if "text" not in record or record["text"] is None:
        return "missing_text"
    text = record["text"]
    if not isinstance(text, str):
        return "text_not_string"
    if not text.strip():
        return "empty_text"
    if len(text) > limits.max_record_bytes:
        return "record_too_large"
    return None


def read_shard(
    path: Path, category: str, shard_name: str, skips: SkipCounter, limits: ReadLimits = DEFAULT_LIMITS
) -> Iterator[pa.RecordBatch]:
    """Stream one shard as DOC_SCHEMA batches; bad records go to ``skips``, never raise.

    A file that cannot be opened or decoded at all (corrupt gzip, permissions) is counted as
    ``unreadable_file``; records read before the corruption are kept.
    """
    builder = _BatchBuilder(category, shard_name)
    try:
        records = _iter_parquet(path, skips, shard_name) if path.name.endswith(".parquet") else _iter_jsonl(
            path, skips, shard_name, limits
        )
        for line, record in records:
            reason = _validate_record(record, limits)
            if reason is not None:
                skips.add(reason, shard_name, line)
                continue
            builder.add(record, line)
            if len(builder) >= limits.batch_size:
                yield builder.flush()
    except (OSError, EOFError, ValueError, pa.ArrowException) as exc:
        skips.add("unreadable_file", shard_name, None, f"{type(exc).__name__}: {exc}"[:300])
    if len(builder):
        yield builder.flush()


def _iter_jsonl(path: Path, skips: SkipCounter, shard_name: str, limits: ReadLimits) -> Iterator[tuple[int, object]]:
    with _open_binary(path) as fh:
        for line_no, raw in _read_lines(fh, limits.max_record_bytes):
            if raw is None:
                skips.add("record_too_large", shard_name, line_no, f"line over {limits.max_record_bytes} bytes")
                continue
            if not raw.strip():
                continue  # blank lines are layout, not records
            try:
                decoded = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                skips.add("invalid_utf8", shard_name, line_no, str(exc)[:200])
                continue
            try:
                yield line_no, json.loads(decoded)
            except json.JSONDecodeError as exc:
                skips.add("malformed_json", shard_name, line_no, str(exc)[:200])


def _iter_parquet(path: Path, skips: SkipCounter, shard_name: str) -> Iterator[tuple[int, object]]:
    pf = pq.ParquetFile(path)
    if "text" not in pf.schema_arrow.names:
        skips.add("missing_text", shard_name, None, f"parquet has no 'text' column ({pf.metadata.num_rows} rows)")
        return
    row = 0
    for batch in pf.iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            row += 1
            yield row, record
