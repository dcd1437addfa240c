"""Synthetic reasoning data, per category: seed 001's CoT chain (cot_chunks -> cot_summaries ->
cot_synthesis) and seed 002's discipline QA. Each asset reads the lake, calls curation/synthesis,
writes its partition atomically, and reports yields, drop reasons and throughput."""

import dagster as dg

from assets.checks.thresholds import check_thresholds
from assets.metadata import compute_line, counts_table, md_table
from assets.partitions import category_partitions
from assets.synthesis_checks import CHECK_SPECS, KEYS, check_results
from curation.lake import stage_writers
from curation.rewrite import GenerationCache
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
from resources.compute import ComputeResource
from resources.configs import REPO_CONFIGS, PipelineConfigs, config_version
from resources.lake import LakeResource
from resources.models import LLMResource

SCORED = dg.AssetKey(["corpus", "scored"])
_SHIPPED = load_synthesis_config(REPO_CONFIGS / "synthesis.yaml")
DESCRIPTIONS = {
    CHUNKS: "Selected scored documents split into logically coherent segments of whole sentences, in their own "
    "language (seed 001 step 1): the LLM names segment boundaries between numbered sentences; an answer that is no "
    "valid split falls back to the rule splitter (counted). Segments rebuild the source exactly.",
    SUMMARIES: "A concise abstract of every segment (seed 001 step 2), validated: shorter, same language, no number "
    "the segment does not state, no copy, no refusal or prompt echo; retried with a new seed.",
    COT: "From all abstracts of a document, an instruction the document answers and a step-by-step chain of thought "
    "(seed 001 step 3, reverse synthesis); training text = instruction + reasoning + the document as answer. "
    "Validated: a task not a copy, non-trivial reasoning, numbers from the source, math answers checked. "
    "mixture_slice cot_synthesis_<category>-<bucket> (seed 000).",
    DISCIPLINE_QA: "Seed 002's discipline QA: a self-contained [Problem] and a step-by-step [Solution] with LaTeX, "
    "inspired by a seed snippet; discipline from config, a topic column, or what the document is. "
    "mixture_slice discipline_qa_<category>-<bucket>.",
}
DEPS = {CHUNKS: [SCORED], SUMMARIES: [KEYS[CHUNKS]], COT: [KEYS[CHUNKS], KEYS[SUMMARIES]], DISCIPLINE_QA: [SCORED]}


def _samples(data, step: str, category: str, n: int = 3) -> list[tuple]:
    out = []
    for batch in data.iter_batches(STAGES[step], category, columns=["id", "text"]):
        out += [(r["id"], r["text"][:200]) for r in batch.to_pylist()]
        if len(out) >= n:
            break
    return out[:n]


def _metadata(step: str, stats: dict, rows: int, samples: list[tuple]) -> dict:
    run = stats["this_run"]
    meta = {
        "dagster/row_count": rows,
        "items": stats["items"],
        "kept": stats["kept"],
        "dropped": stats["dropped"],
        "yield": round(stats["kept"] / stats["items"], 4) if stats["items"] else 0.0,
        "drops_by_reason": counts_table(stats["drops_by_reason"], total=stats["items"]),
        "rejected_generations_by_reason": counts_table(stats["rejected_generations_by_reason"], key="reason "
                                                       "(every attempt)"),
        "not_selected_by_reason": counts_table(stats["skipped_by_reason"]),
        "this_run": md_table(["processed", "resumed (not regenerated)", "batches", "generated", "cache hits",
                              "new tokens", "generation s"],
                             [(run["items_processed"], run["resumed_items"], run["batches"], run["generated"],
                               run["cache_hits"], run["new_tokens"], run["generation_s"])]),
        "items_per_min": float(stats["items_per_min"] or 0.0),
        "new_tokens_per_item": float(stats["new_tokens_per_item"] or 0.0),
        "generation_s": stats["generation_s"],
        "seconds": stats["wall_s"],
        "model": stats["model"],
        "backend": stats["backend"],
        "compute": compute_line(stats["compute"]),
        "param_version": stats["param_version"],
        "samples": md_table(["id", "text"], samples),
    }
    if step == CHUNKS:
        meta["split_methods"] = counts_table(stats["split_methods"], key="method")
        meta["rule_split_because"] = counts_table(stats["split_notes"], key="reason")
    if step in (COT, DISCIPLINE_QA):
        # two-pass: how many leads (instructions / problems) passed their checks and got a body generated
        meta["leads_accepted"] = stats["leads_accepted"]
    if step == COT:
        meta["math_answer_checks"] = counts_table(stats["answer_checks"], key="outcome")
    return meta


def _synthesis_asset(step: str):
    template = _SHIPPED.template_name(step)

    @dg.asset(
        key=KEYS[step],
        deps=DEPS[step],
        partitions_def=category_partitions,
        group_name="synthesis",
        kinds={"parquet", "pytorch"},
        code_version=config_version("synthesis.yaml", f"prompts/{template}.yaml"),
        check_specs=CHECK_SPECS[step],
        description=DESCRIPTIONS[step],
    )
    def synthesis_step(context: dg.AssetExecutionContext, lake: LakeResource, llm: LLMResource,
                       configs: PipelineConfigs, compute: ComputeResource) -> dg.MaterializeResult:
        category, data = context.partition_key, lake.lake
        config: SynthesisConfig = load_synthesis_config(configs.path("synthesis.yaml"))
        with stage_writers(data, STAGES[step], category, SCHEMAS[step]) as (out, drops_out), \
                GenerationCache.for_lake(data) as cache, compute.open() as engine, llm.backend_on(engine) as backend:
            stats = PARTITION_FUNCTIONS[step](data, category, backend, config, cache, out, drops_out)
            rows = out.rows
            stats["compute"] = engine.describe()
        lake.catalog.record_stage_stats(STAGES[step], category, stats["docs_in"], rows, stats, context.run_id)
        return dg.MaterializeResult(metadata=_metadata(step, stats, rows, _samples(data, step, category)),
                                    check_results=check_results(data, step, category, stats, config,
                                                                check_thresholds(configs)))

    return synthesis_step


cot_chunks = _synthesis_asset(CHUNKS)
cot_summaries = _synthesis_asset(SUMMARIES)
cot_synthesis = _synthesis_asset(COT)
discipline_qa = _synthesis_asset(DISCIPLINE_QA)
SYNTHESIS_ASSETS = [cot_chunks, cot_summaries, cot_synthesis, discipline_qa]
