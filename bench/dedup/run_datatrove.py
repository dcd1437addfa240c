"""Run DataTrove 0.10.1's MinHash dedup (stages 1-4) on the benchmark corpus; print removed ids as JSON.

Runs in bench/.venv-datatrove. One language-specific pipeline per file (DataTrove picks one word tokenizer
per run), one task and one worker, DataTrove's default MinhashConfig (5-grams, 14 buckets x 8 hashes).
"""

import json
import sys
import time
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.typeshelper import Languages


def run(corpus: Path, work: Path, lang: str, language) -> None:
    config = MinhashConfig()
    w = work / lang
    reader = lambda: JsonlReader(str(corpus), glob_pattern=f"{lang}.jsonl", id_key="id")
    stages = [
        [reader(), MinhashDedupSignature(output_folder=str(w / "sigs"), config=config, language=language)],
        [MinhashDedupBuckets(input_folder=str(w / "sigs"), output_folder=str(w / "buckets"), config=config)],
        [MinhashDedupCluster(input_folder=str(w / "buckets"), output_folder=str(w / "remove_ids"), config=config)],
        [reader(), MinhashDedupFilter(input_folder=str(w / "remove_ids"),
                                      exclusion_writer=JsonlWriter(str(w / "removed"), compression=None)),
         JsonlWriter(str(w / "kept"), compression=None)],
    ]
    for i, pipeline in enumerate(stages):
        tasks = config.num_buckets if i == 1 else 1  # the bucket stage needs one task per bucket
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=str(w / f"logs{i}")).run()


def main(corpus: Path, work: Path) -> None:
    t0 = time.perf_counter()
    run(corpus, work, "en", Languages.english)
    run(corpus, work, "zh", Languages.chinese)
    seconds = time.perf_counter() - t0
    removed = {}
    for path in work.glob("*/removed/*.jsonl"):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                removed[json.loads(line)["id"]] = None
    print(json.dumps({"seconds": seconds, "removed": removed}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
