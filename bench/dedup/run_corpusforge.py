"""Run corpusforge's dedup on the benchmark corpus (one category per language); print removed ids as JSON."""

import json
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curation.dedup import DedupConfig, dedup_partition
from curation.document import DOC_SCHEMA, DROP_SCHEMA
from curation.lake import Lake, PartitionWriter


def batches(path: Path, category: str, size: int = 2048):
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh):
            r = json.loads(line)
            rows.append((r["id"], r["text"], line_no))
            if len(rows) == size:
                yield _batch(rows, category, path.name)
                rows = []
    if rows:
        yield _batch(rows, category, path.name)


def _batch(rows, category, shard):
    return pa.RecordBatch.from_pydict({
        "id": [r[0] for r in rows], "text": [r[1] for r in rows], "category": [category] * len(rows),
        "source_shard": [shard] * len(rows), "source_line": [r[2] for r in rows], "meta": [None] * len(rows)},
        schema=DOC_SCHEMA)


def main(corpus: Path, home: Path, config_json: str) -> None:
    lake, config = Lake(home), DedupConfig(**json.loads(config_json))
    removed, stats_all = {}, {}
    t0 = time.perf_counter()
    for category in ("en", "zh"):
        with PartitionWriter(lake.stage_dir("deduped", category), DOC_SCHEMA) as out, \
                PartitionWriter(lake.drops_dir("deduped", category), DROP_SCHEMA) as drops:
            stats = dedup_partition(batches(corpus / f"{category}.jsonl", category), category, lake, config, out,
                                    drops)
        stats_all[category] = {k: v for k, v in stats.items() if not k.startswith("sample_pairs")}
    for category in ("en", "zh"):
        for f in sorted(lake.drops_dir("deduped", category).glob("*.parquet")):
            for r in pq.read_table(f).to_pylist():
                removed[r["doc_id"]] = r["duplicate_of"]
    print(json.dumps({"seconds": time.perf_counter() - t0, "removed": removed, "stats": stats_all}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "{}")
