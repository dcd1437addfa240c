"""Synthesis benchmark: documents per minute and yield of each step on the demo corpus, and an
extrapolation of seed 001's scale (430M CoT samples) to GPU-hours.

    CORPUSFORGE_HOME=/tmp/cf-bench .venv/bin/python bench/synthesis/run.py [--docs 2] [--categories code math]

Needs the demo corpus scored in $CORPUSFORGE_HOME (``make demo`` leaves it there); when it is missing,
the rewrite benchmark's ``ensure_scored`` runs the project's own assets first. The four steps run with
the shipped configs/synthesis.yaml (``--docs`` overrides both per-category budgets) on a fresh lake that
links the scored stage, with a fresh generation cache, so every generation is new. On CPU the backend
is transformers with the packaged SmolLM2-135M-Instruct; on CUDA with the `gpu` extra it is vLLM.
Writes bench/results/synthesis.json and synthesis.md.

The GPU-hour figures are an extrapolation, labelled as such: generated tokens per kept sample (measured
here, and at the production token budgets of curation/synthesis/config.py) x 430M samples / an output
throughput for a ~7B model under vLLM on one H100-class GPU that we did not measure (THROUGHPUTS).
"""

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from curation.lake import Lake, home_from_env, stage_writers
from curation.lm.generation import make_backend
from curation.lm.models import materialize_model
from curation.rewrite.cache import GenerationCache
from curation.synthesis import (
    CHUNKS,
    COT,
    DISCIPLINE_QA,
    PARTITION_FUNCTIONS,
    SCHEMAS,
    STAGES,
    SUMMARIES,
    SynthesisConfig,
    load_synthesis_config,
)

RESULTS = REPO / "bench" / "results"
SEED_001_SAMPLES = 430_000_000  # seed 001: ~430M CoT samples, ~425B tokens (CCI 4.0)
SEED_001_TOKENS = 425e9
# Output tokens/s of vLLM for a 7-8B model on one GPU: third-party figures we did not reproduce (no GPU here).
THROUGHPUTS = {
    "optimistic: Llama 3.1 8B BF16, 1x H100 80GB, ~12,500 output tok/s": 12_500,
    "conservative: DeepSeek-R1-Distill-Qwen-7B, 1x A100 80GB, 3,363 output tok/s": 3_363,
}
THROUGHPUT_SOURCE = ("compiled third-party benchmarks at morphllm.com/vllm-benchmarks (2026), which cite public "
                     "vLLM runs; an assumption for this estimate, not a measurement")
STEPS = (CHUNKS, SUMMARIES, COT, DISCIPLINE_QA)


def ensure_scored(lake: Lake, categories: list[str]) -> None:
    """The rewrite benchmark's helper (bench/rewrite/run.py), loaded from its file (bench/ is no package)."""
    spec = importlib.util.spec_from_file_location("rewrite_bench", REPO / "bench" / "rewrite" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.ensure_scored(lake, categories)


def budgeted(config: SynthesisConfig, docs: int | None) -> SynthesisConfig:
    if docs is None:
        return config
    qa = replace(config.discipline_qa, selection=replace(config.discipline_qa.selection, max_docs_per_category=docs))
    return replace(config, selection=replace(config.selection, max_docs_per_category=docs), discipline_qa=qa)


def bench_category(lake: Lake, category: str, backend, config: SynthesisConfig, cache: GenerationCache) -> dict:
    out = {"category": category}
    for step in STEPS:
        tokens0, prompt0 = backend.counters.new_tokens, backend.counters.prompt_tokens
        start = time.perf_counter()
        with stage_writers(lake, STAGES[step], category, SCHEMAS[step]) as (rows, drops):
            stats = PARTITION_FUNCTIONS[step](lake, category, backend, config, cache, rows, drops)
        wall = time.perf_counter() - start
        docs = stats["items"] if step != SUMMARIES else len({r for b in lake.iter_batches(
            STAGES[CHUNKS], category, columns=["parent_id"]) for r in b.column("parent_id").to_pylist()})
        out[step] = {
            "items": stats["items"], "documents": docs, "kept": stats["kept"], "attempted": stats["attempted"],
            "drops_by_reason": stats["drops_by_reason"], "rejected_generations": stats["rejected_generations_by_reason"],
            "split_methods": stats["split_methods"], "split_notes": stats["split_notes"],
            "answer_checks": stats["answer_checks"], "requests": stats["requests"],
            "leads_accepted": stats["leads_accepted"],
            "new_tokens": backend.counters.new_tokens - tokens0, "prompt_tokens": backend.counters.prompt_tokens - prompt0,
            "wall_s": round(wall, 2), "generation_s": stats["generation_s"], "cache_hits": stats["cache_hits"],
            "docs_per_min": round(docs / wall * 60, 2) if wall and docs else None,
        }
        print(f"{category:12s} {step:14s} {stats['kept']:3d}/{stats['items']:3d} kept  {wall:6.1f}s  "
              f"{out[step]['new_tokens']:5d} new tokens  drops {stats['drops_by_reason']}", flush=True)
    return out


def totals(report: dict) -> dict:
    agg = {step: {"documents": 0, "items": 0, "kept": 0, "wall_s": 0.0, "new_tokens": 0, "prompt_tokens": 0}
           for step in STEPS}
    for c in report["categories"]:
        for step in STEPS:
            for k in agg[step]:
                agg[step][k] += c[step][k]
    for a in agg.values():
        a["docs_per_min"] = round(a["documents"] / a["wall_s"] * 60, 2) if a["wall_s"] else None
        a["yield"] = round(a["kept"] / a["items"], 3) if a["items"] else None
        a["wall_s"] = round(a["wall_s"], 1)
    return agg


def extrapolate(agg: dict, config: SynthesisConfig) -> dict:
    """GPU-hours for seed 001's 430M CoT samples (an extrapolation from the measured tokens and yield)."""
    docs = agg[CHUNKS]["documents"]
    kept = agg[COT]["kept"]
    chain = (CHUNKS, SUMMARIES, COT)
    tokens_per_doc = sum(agg[s]["new_tokens"] for s in chain) / docs if docs else 0.0
    segments_per_doc = agg[SUMMARIES]["items"] / docs if docs else 0.0
    # production budgets (config.py defaults): every generation at its max_new_tokens, an upper bound per attempt
    full = SynthesisConfig()
    budget_per_doc = (full.chunks.sampling.max_new_tokens + segments_per_doc * full.summaries.sampling.max_new_tokens
                      + full.cot.sampling.max_new_tokens)
    cases = {
        "measured tokens/doc, every document kept (lower bound)": tokens_per_doc,
        "production budgets (config.py max_new_tokens) per doc, every document kept": budget_per_doc,
    }
    if kept:
        cases[f"measured tokens/doc at the measured CoT yield {kept}/{docs}"] = tokens_per_doc * docs / kept
    rows = []
    for label, per_sample in cases.items():
        total = per_sample * SEED_001_SAMPLES
        rows.append({"case": label, "generated_tokens_per_sample": round(per_sample, 1),
                     "generated_tokens_total": total,
                     "gpu_hours": {name: round(total / tps / 3600) for name, tps in THROUGHPUTS.items()}})
    return {"samples": SEED_001_SAMPLES, "seed_001_tokens_per_sample": round(SEED_001_TOKENS / SEED_001_SAMPLES, 1),
            "segments_per_doc": round(segments_per_doc, 2), "throughput_source": THROUGHPUT_SOURCE, "cases": rows}


def markdown(report: dict) -> str:
    agg, ext = report["totals"], report["extrapolation"]
    lines = [f"# Synthesis benchmark ({report['backend']}, {report['model']}, {report['device']})", "",
             (f"Shipped configs/synthesis.yaml, {report['docs_per_category']} documents per category, "
             f"{len(report['categories'])} categories of the demo corpus, {report['cache']} generation cache. "
             f"Measured {report['date']} on a shared 2-core CPU (other jobs were running: timings are noisy)."), "",
             "| step | documents | items | kept | yield | wall s | documents / min | new tokens | prompt tokens |",
             "|---|---|---|---|---|---|---|---|---|"]
    for step in STEPS:
        a = agg[step]
        lines.append(f"| {step} | {a['documents']} | {a['items']} | {a['kept']} | {a['yield']} | {a['wall_s']} | "
                     f"{a['docs_per_min']} | {a['new_tokens']} | {a['prompt_tokens']} |")
    lines += ["", "## Per category", "", "| category | step | kept / items | wall s | drops by reason | split |",
              "|---|---|---|---|---|---|"]
    for c in report["categories"]:
        for step in STEPS:
            s = c[step]
            split = ", ".join(f"{k} {v}" for k, v in {**s["split_methods"], **s["split_notes"]}.items()) or "-"
            drops = ", ".join(f"{k} {v}" for k, v in s["drops_by_reason"].items()) or "-"
            lines.append(f"| {c['category']} | {step} | {s['kept']} / {s['items']} | {s['wall_s']} | {drops} | {split} |")
    lines += ["", "## Extrapolation to seed 001's scale (not measured)", "",
              (f"{ext['samples']:,} CoT samples (seed 001; its {ext['seed_001_tokens_per_sample']} tokens per sample "
              f"include the source text, which the model does not generate here: the answer is the document). "
              f"{ext['segments_per_doc']} segments per document measured. Throughputs: {ext['throughput_source']}. "
              "Prompt (prefill) tokens are assumed to be absorbed in those output-throughput figures, which come from "
              "mixed prompt/output workloads."), "",
              "| case | generated tokens / sample | " + " | ".join(f"GPU-hours, {n}" for n in THROUGHPUTS) + " |",
              "|---|---|" + "---|" * len(THROUGHPUTS)]
    for row in ext["cases"]:
        lines.append(f"| {row['case']} | {row['generated_tokens_per_sample']} | "
                     + " | ".join(f"{row['gpu_hours'][n]:,}" for n in THROUGHPUTS) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=None, help="documents per category (default: the shipped budget)")
    parser.add_argument("--categories", nargs="*", default=None)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--cache", type=Path, default=None,
                        help="generation cache to reuse (default: a fresh one; a reused one makes timings meaningless)")
    args = parser.parse_args()
    source = Lake(home_from_env())
    categories = args.categories or sorted(source.landing_categories()) or ["code", "en_docs", "math", "zh_docs",
                                                                            "zh_news", "zh_reviews"]
    ensure_scored(source, categories)
    config = budgeted(load_synthesis_config(REPO / "configs" / "synthesis.yaml"), args.docs)
    model_dir = materialize_model("packaged:smollm2-135m-instruct", source.models_dir)
    backend = make_backend(args.backend, model_dir, model_id="smollm2-135m-instruct")
    reused = False
    if args.cache is not None and args.cache.is_file():
        with GenerationCache(args.cache) as existing:
            reused = len(existing) > 0
    with tempfile.TemporaryDirectory() as tmp:
        lake = Lake(Path(tmp))
        (lake.home / "lake").mkdir(parents=True)
        (lake.home / "lake" / "scored").symlink_to(source.stage_dir("scored"))
        with GenerationCache(args.cache or Path(tmp) / "cache.sqlite") as cache:
            rows = [bench_category(lake, c, backend, config, cache) for c in categories if source.files("scored", c)]
    import torch

    report = {"backend": backend.name, "model": backend.model_id,
              "device": "cuda" if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)",
              "date": time.strftime("%Y-%m-%d"), "docs_per_category": config.selection.max_docs_per_category,
              "cache": "reused (timings not fresh)" if reused else "fresh",
              "categories": rows}
    report["totals"] = totals(report)
    report["extrapolation"] = extrapolate(report["totals"], config)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "synthesis.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    (RESULTS / "synthesis.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
