"""DataTrove 0.10.1's side of the scoring benchmark; runs inside bench/.venv-datatrove.

Reads the benchmark corpus (jsonl: id, lang, text), runs GopherRepetitionFilter,
GopherQualityFilter, C4QualityFilter and FineWebQualityFilter with their defaults, each on
every document (for per-filter agreement), then the four chained in that order as a pipeline
would (for throughput), and writes decisions + timings (CPU seconds of this one process) as JSON.
"""

import json
import resource
import sys
import time

from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)

FILTERS = {
    "gopher_repetition": GopherRepetitionFilter,
    "gopher_quality": GopherQualityFilter,
    "c4": C4QualityFilter,
    "fineweb": FineWebQualityFilter,
}


def verdict(flt, doc: Document) -> str | None:
    """None when kept, else DataTrove's reason."""
    result = flt.filter(doc)
    if isinstance(result, tuple):
        return None if result[0] else result[1]
    return None if result else "dropped"


def main(corpus_path: str, out_path: str) -> None:
    with open(corpus_path, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    n_bytes = sum(len(d["text"].encode("utf-8")) for d in docs)
    filters = {name: cls() for name, cls in FILTERS.items()}
    # warm-up: spaCy's blank English pipeline loads lazily on the first call
    for flt in filters.values():
        verdict(flt, Document(text=docs[0]["text"], id="warmup"))
    decisions, seconds = {}, {}
    for name, flt in filters.items():
        t0 = time.process_time()
        decisions[name] = [verdict(flt, Document(text=d["text"], id=d["id"])) for d in docs]
        seconds[name] = time.process_time() - t0
    t0 = time.process_time()
    kept = 0
    for d in docs:
        doc = Document(text=d["text"], id=d["id"])  # C4 rewrites doc.text, as in a real pipeline
        if all(verdict(flt, doc) is None for flt in filters.values()):
            kept += 1
    chained = time.process_time() - t0
    result = {
        "tool": "datatrove 0.10.1",
        "docs": len(docs),
        "bytes": n_bytes,
        "decisions": decisions,
        "seconds_by_filter": seconds,
        "chained_seconds": chained,
        "chained_kept": kept,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    with open(out_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
