"""Rewriting benchmark: the rewritten stage vs bare generation on the same prompts and sampling,
plus validation yield per style and reason on the demo corpus.

    CORPUSFORGE_HOME=/tmp/cf-bench .venv/bin/python bench/rewrite/run.py [--categories en_docs code math]

Needs the demo corpus scored in $CORPUSFORGE_HOME (``make demo`` leaves it there); when it is
missing, this runs the project's own ingest -> dedup -> quality models -> scored assets first.
For each category: (1) the stage runs with the shipped configs/rewrite.yaml and a fresh
generation cache, every request it sends to the backend recorded; (2) the same requests are
replayed straight into the backend in one batched call (bare generation); tokens/s of both and
the ratio. On CPU the backend is transformers; on a CUDA machine with the `gpu` extra it is vLLM
(``--backend vllm``). Writes bench/results/rewrite.json and rewrite.md.
"""

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from curation.document import DROP_SCHEMA
from curation.lake import Lake, PartitionWriter, home_from_env
from curation.lm.generation import make_backend
from curation.lm.models import materialize_model
from curation.rewrite import GenerationCache, load_rewrite_config, output_schema, rewrite_partition

RESULTS = REPO / "bench" / "results"


class Recording:
    """Passes requests to a real backend and keeps them, so bare generation can replay the same ones."""

    def __init__(self, backend):
        self.backend, self.requests = backend, []
        self.name, self.model_id, self.fingerprint = backend.name, backend.model_id, backend.fingerprint
        self.context_length, self.counters = backend.context_length, backend.counters

    def count_tokens(self, text):
        return self.backend.count_tokens(text)

    def generate_requests(self, requests):
        self.requests += requests
        return self.backend.generate_requests(requests)


def ensure_scored(lake: Lake, categories: list[str]) -> None:
    missing = [c for c in categories if not lake.files("scored", c)]
    if not missing:
        return
    import dagster as dg

    from assets.partitions import category_partitions
    from curation.sample_corpus import build_sample_corpus
    from dagster_project.definitions import ASSETS, defs

    print(f"scoring {missing} first (the project's own assets)", flush=True)
    build_sample_corpus(lake.landing)
    instance = dg.DagsterInstance.ephemeral()
    everything = sorted(lake.landing_categories())
    instance.add_dynamic_partitions(category_partitions.name, everything)
    for category in everything:
        dg.materialize(ASSETS, selection=dg.AssetSelection.groups("ingest", "dedup"), partition_key=category,
                       instance=instance, resources=defs.resources)
    dg.materialize(ASSETS, selection=dg.AssetSelection.groups("quality_models"), instance=instance,
                   resources=defs.resources)
    for category in missing:
        dg.materialize(ASSETS, selection=dg.AssetSelection.groups("scoring"), partition_key=category,
                       instance=instance, resources=defs.resources)


def bench_category(lake: Lake, category: str, backend, config, workdir: Path) -> dict:
    rec = Recording(backend)
    before = backend.counters.new_tokens
    out = PartitionWriter(workdir / "out" / category, output_schema(lake.read_schema("scored", category)))
    drops = PartitionWriter(workdir / "drops" / category, DROP_SCHEMA)
    with GenerationCache(workdir / f"cache-{category}.sqlite") as cache:
        start = time.perf_counter()
        stats = rewrite_partition(lake.iter_batches("scored", category), category, rec, config, cache, out, drops)
        stage_s = time.perf_counter() - start
    out.commit()
    drops.commit()
    stage_tokens = backend.counters.new_tokens - before
    bare_tokens = bare_s = 0.0
    if rec.requests:
        before = backend.counters.new_tokens
        start = time.perf_counter()
        backend.generate_requests(rec.requests)
        bare_s = time.perf_counter() - start
        bare_tokens = backend.counters.new_tokens - before
    stage_tps = stage_tokens / stage_s if stage_s else 0.0
    bare_tps = bare_tokens / bare_s if bare_s else 0.0
    return {
        "category": category,
        "requests": len(rec.requests),
        "rounds": stats["rounds"],
        "stage_s": round(stage_s, 2),
        "stage_new_tokens": int(stage_tokens),
        "stage_tokens_per_s": round(stage_tps, 2),
        "bare_s": round(bare_s, 2),
        "bare_new_tokens": int(bare_tokens),
        "bare_tokens_per_s": round(bare_tps, 2),
        "ratio_stage_vs_bare": round(stage_tps / bare_tps, 3) if bare_tps else None,
        "jobs": stats["jobs_attempted"],
        "kept": stats["synthetic_docs"],
        "kinds": stats["kinds_selected"],
        "yield_by_style": stats["yield_by_style"],
        "drops_by_reason": stats["drops_by_reason"],
        "rejections_by_reason": stats["validation_failures_by_reason"],
    }


def markdown(report: dict) -> str:
    lines = [f"# Rewriting benchmark ({report['backend']}, {report['model']}, {report['device']})", "",
             ("Stage = `rewrite_partition` with the shipped configs/rewrite.yaml (planning, rounds, validation, "
             "cache, parquet writes); bare = the same requests replayed into the backend in one call."), "",
             "| category | requests | rounds | stage tok/s | bare tok/s | ratio | jobs | kept |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["categories"]:
        lines.append(f"| {r['category']} | {r['requests']} | {r['rounds']} | {r['stage_tokens_per_s']} | "
                     f"{r['bare_tokens_per_s']} | {r['ratio_stage_vs_bare']} | {r['jobs']} | {r['kept']} |")
    lines += ["", "## Validation yield per style", "", ("| category | style | jobs | kept | yield | refused before "
              "generation | rejected generations |"), "|---|---|---|---|---|---|---|"]
    for r in report["categories"]:
        for s in r["yield_by_style"]:
            rejected = ", ".join(f"{k} {v}" for k, v in s["rejected_generations"].items()) or "-"
            lines.append(f"| {r['category']} | {s['style']} | {s['attempted']} | {s['kept']} | {s['yield']} | "
                         f"{s['refused_before_generation']} | {rejected} |")
    total = Counter()
    for r in report["categories"]:
        total.update(r["rejections_by_reason"])
    lines += ["", "Rejections by reason (all categories): " + (", ".join(f"{k} {v}" for k, v in total.most_common())
                                                            or "none")]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--categories", nargs="+", default=["en_docs", "code", "math"])
    parser.add_argument("--model", default="packaged:smollm2-135m-instruct")
    parser.add_argument("--backend", default="auto", choices=["auto", "transformers", "vllm"])
    parser.add_argument("--config", default=str(REPO / "configs" / "rewrite.yaml"))
    args = parser.parse_args(argv)
    lake = Lake(home_from_env())
    ensure_scored(lake, args.categories)
    config = load_rewrite_config(Path(args.config))
    backend = make_backend(args.backend, materialize_model(args.model, lake.home / "models"), model_id=args.model)
    import torch

    device = "cuda" if torch.cuda.is_available() else f"cpu, {torch.get_num_threads()} threads"
    report = {"backend": backend.name, "model": args.model, "device": device, "config_version": config.version,
              "categories": []}
    with tempfile.TemporaryDirectory() as tmp:
        for category in args.categories:
            row = bench_category(lake, category, backend, config, Path(tmp))
            print(json.dumps({k: v for k, v in row.items() if k != "yield_by_style"}), flush=True)
            report["categories"].append(row)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rewrite.json").write_text(json.dumps(report, indent=1))
    (RESULTS / "rewrite.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
