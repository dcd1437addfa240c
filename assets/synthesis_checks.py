"""Blocking checks on the synthesis assets, computed from what was written (not from the run's own counts
where the data can speak): segments rebuild their source, abstracts are shorter and in the segment's
language, instructions are tasks and no copy of their source, QA pairs keep their format and LaTeX,
provenance names model, prompt and sampling, drop rates sit in their band. A check with nothing to
judge returns WARN with the reason.
"""

import json
import re
from collections import defaultdict

import dagster as dg

from assets.checks.documents import check_frame, document_suite
from assets.checks.gx import expectations, run_suite
from assets.checks.rates import rate_band_check
from assets.checks.results import cannot_judge, verdict
from assets.checks.thresholds import check_thresholds
from assets.metadata import counts_table
from curation.lake import Lake
from curation.rewrite.validate import content_length
from curation.synthesis import CHUNKS, COT, DISCIPLINE_QA, STAGES, SUMMARIES, SynthesisConfig
from curation.synthesis import validate as val
from curation.synthesis.segments import coverage_problem
from curation.synthesis.stage import mixture_slice, seed_snippet

KEYS = {step: dg.AssetKey(["synthetic", STAGES[step]]) for step in STAGES}
PROVENANCE_KEYS = ("step", "parent_id", "template", "template_sha256", "prompt_sha256", "model", "model_revision",
                   "backend", "sampling", "attempts", "param_version")
MAX_LISTED = 20


def _drop_rate_spec(step: str, what: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "drop_rate_in_band", asset=KEYS[step], blocking=True,
        description=f"Share of {what} whose every generation failed validation, within checks.yaml "
        f"synthesis.{step}.drop_rate: fails when its Wilson 95% interval lies above the band, passes when it lies "
        "inside, WARN when it straddles the band or below min_items (too few to tell). Rejections by reason "
        "in the metadata.")


def _gx_spec(step: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "gx_synthetic_valid", asset=KEYS[step], blocking=True,
        description="GX suite: document contract (ids unique, text non-empty, category = partition); parent_id, "
        f"model and provenance present; every parent exists in corpus/scored; mixture_slice named "
        f"{STAGES[step]}_<category>[-<bucket>] (seed 000).")


def _provenance_spec(step: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "provenance_complete", asset=KEYS[step], blocking=True,
        description="Every document's synthesis_provenance parses and names step, parent, template and its hash, "
        "prompt hash, model and revision, backend, sampling and attempts; the template hash matches the shipped "
        "file and mixture_slice matches category and bucket.")


CHECK_SPECS = {
    CHUNKS: [dg.AssetCheckSpec(
        "segments_cover_source", asset=KEYS[CHUNKS], blocking=True,
        description="For every parent document: its segments, in segment_index order 0..n-1, join back to the "
        "parent's text in corpus/scored exactly (in order, nothing lost or added), and every segment starts at a "
        "sentence start of the rule splitter (whole sentences).")],
    SUMMARIES: [dg.AssetCheckSpec(
        "summaries_shorter_same_language", asset=KEYS[SUMMARIES], blocking=True,
        description="Every abstract is shorter (non-space characters) than the segment it summarizes in "
        "cot_chunks, and in the same language where both are long enough to identify (py3langid, the scoring "
        "stage's confidence cut)."), _drop_rate_spec(SUMMARIES, "segments")],
    COT: [dg.AssetCheckSpec(
        "instruction_not_a_copy", asset=KEYS[COT], blocking=True,
        description="Every instruction is a question or task (question mark, interrogative or imperative opening), "
        "self-contained (it names no 'the text' / 'these notes') and shares at most cot.max_instruction_overlap of its n-grams with its source document (rebuilt from "
        "cot_chunks); the training text carries the instruction and ends with the source as its answer."),
          _drop_rate_spec(COT, "documents"), _provenance_spec(COT), _gx_spec(COT)],
    DISCIPLINE_QA: [dg.AssetCheckSpec(
        "qa_well_formed", asset=KEYS[DISCIPLINE_QA], blocking=True,
        description="Every document parses as seed 002's [Problem] / [Solution], its LaTeX is balanced, and the "
        "problem is no copy of its seed snippet (n-gram overlap bound)."),
                    _drop_rate_spec(DISCIPLINE_QA, "documents"), _provenance_spec(DISCIPLINE_QA),
                    _gx_spec(DISCIPLINE_QA)],
}


def _rows(lake: Lake, step: str, category: str, columns: list[str]) -> list[dict]:
    return [r for b in lake.iter_batches(STAGES[step], category, columns=columns) for r in b.to_pylist()]


def _texts(lake: Lake, stage: str, category: str, ids: set[str]) -> dict[str, str]:
    out = {}
    for batch in lake.iter_batches(stage, category, columns=["id", "text"]):
        out.update((i, t) for i, t in zip(batch.column("id").to_pylist(), batch.column("text").to_pylist(),
                                          strict=True) if i in ids)
    return out


def _sources(lake: Lake, category: str, parents: set[str]) -> dict[str, str]:
    """Each parent's text rebuilt from its segments in cot_chunks (what the CoT step read)."""
    segments = defaultdict(list)
    for r in _rows(lake, CHUNKS, category, ["parent_id", "segment_index", "text"]):
        if r["parent_id"] in parents:
            segments[r["parent_id"]].append((r["segment_index"], r["text"]))
    return {p: "".join(t for _, t in sorted(s)) for p, s in segments.items()}


def _listed(problems: list[str]) -> str:
    return "\n".join(problems[:MAX_LISTED]) or "none"


def coverage_result(lake: Lake, category: str, config: SynthesisConfig) -> dg.AssetCheckResult:
    key = KEYS[CHUNKS]
    chunks = _rows(lake, CHUNKS, category, ["parent_id", "segment_index", "segment_count", "text"])
    if not chunks:
        return cannot_judge(key, "segments_cover_source", f"no segments in {category}: nothing to check",
                            {"segments": 0})
    by_parent = defaultdict(list)
    for r in chunks:
        by_parent[r["parent_id"]].append(r)
    parents = _texts(lake, "scored", category, set(by_parent))
    problems = []
    for parent, segs in sorted(by_parent.items()):
        segs.sort(key=lambda r: r["segment_index"])
        if [s["segment_index"] for s in segs] != list(range(len(segs))) or \
                {s["segment_count"] for s in segs} != {len(segs)}:
            problems.append(f"{parent}: segment indices {[s['segment_index'] for s in segs]} / counts "
                            f"{sorted({s['segment_count'] for s in segs})} are not 0..{len(segs) - 1}")
        elif parent not in parents:
            problems.append(f"{parent}: no such document in corpus/scored/{category}")
        elif (problem := coverage_problem(parents[parent], [s["text"] for s in segs], config.chunks.max_unit_chars)):
            problems.append(f"{parent}: {problem[0]}: {problem[1]}")
    return verdict(key, "segments_cover_source", problems,
                   {"documents": len(by_parent), "segments": len(chunks), "documents_failing": len(problems),
                    "problems": _listed(problems)})


def summaries_result(lake: Lake, category: str, config: SynthesisConfig) -> dg.AssetCheckResult:
    key, name = KEYS[SUMMARIES], "summaries_shorter_same_language"
    summaries = _rows(lake, SUMMARIES, category, ["id", "segment_id", "text"])
    if not summaries:
        return cannot_judge(key, name, f"no abstracts in {category}: nothing to check", {"abstracts": 0})
    segments = _texts(lake, STAGES[CHUNKS], category, {s["segment_id"] for s in summaries})
    problems, judged_language = [], 0
    min_chars = config.summaries.min_chars_for_language
    for s in summaries:
        segment = segments.get(s["segment_id"])
        if segment is None:
            problems.append(f"{s['id']}: segment {s['segment_id']} is not in cot_chunks")
            continue
        a, b = content_length(s["text"]), content_length(segment)
        if a >= b:
            problems.append(f"{s['id']}: abstract of {a} characters is not shorter than its segment ({b})")
            continue
        agree, detail = val.same_language(s["text"], segment, min_chars)
        judged_language += detail != "too short to judge"
        if not agree:
            problems.append(f"{s['id']}: language {detail}")
    return verdict(key, name, problems, {"abstracts": len(summaries), "language_judged": judged_language,
                                         "problems": _listed(problems)})


def instruction_result(lake: Lake, category: str, config: SynthesisConfig) -> dg.AssetCheckResult:
    key, name, cfg = KEYS[COT], "instruction_not_a_copy", config.cot
    docs = _rows(lake, COT, category, ["id", "parent_id", "instruction", "text"])
    if not docs:
        return cannot_judge(key, name, f"no CoT documents in {category}: nothing to check", {"documents": 0})
    sources = _sources(lake, category, {d["parent_id"] for d in docs})
    problems = []
    for d in docs:
        instruction, source = d["instruction"] or "", sources.get(d["parent_id"])
        if source is None:
            problems.append(f"{d['id']}: parent {d['parent_id']} has no segments in cot_chunks")
        elif not val.looks_like_task(instruction):
            problems.append(f"{d['id']}: instruction is not a question or task: {instruction[:60]!r}")
        elif leaning := val.refers_to_source(instruction):
            problems.append(f"{d['id']}: instruction is not self-contained ({leaning!r}): {instruction[:60]!r}")
        elif (copied := val.is_copy(instruction, source, cfg.ngram, cfg.max_instruction_overlap))[0]:
            problems.append(f"{d['id']}: instruction copies its source ({copied[1]} > {cfg.max_instruction_overlap})")
        elif instruction not in d["text"] or not d["text"].endswith(source.strip()):
            problems.append(f"{d['id']}: text does not hold the instruction and end with its source")
    return verdict(key, name, problems, {"documents": len(docs), "problems": _listed(problems)})


def qa_result(lake: Lake, category: str, config: SynthesisConfig) -> dg.AssetCheckResult:
    key, name, cfg = KEYS[DISCIPLINE_QA], "qa_well_formed", config.discipline_qa
    docs = _rows(lake, DISCIPLINE_QA, category, ["id", "parent_id", "text"])
    if not docs:
        return cannot_judge(key, name, f"no QA documents in {category}: nothing to check", {"documents": 0})
    parents = _texts(lake, "scored", category, {d["parent_id"] for d in docs})
    problems = []
    for d in docs:
        parsed = val.parse_problem_solution(d["text"])
        if parsed is None:
            problems.append(f"{d['id']}: no [Problem] / [Solution] sections")
        elif broken := val.latex_problem(d["text"]):
            problems.append(f"{d['id']}: LaTeX {broken}")
        elif d["parent_id"] not in parents:
            problems.append(f"{d['id']}: parent {d['parent_id']} is not in corpus/scored/{category}")
        elif (copied := val.is_copy(parsed[0], seed_snippet(parents[d["parent_id"]], cfg.snippet_chars), cfg.ngram,
                                    cfg.max_problem_overlap))[0]:
            problems.append(f"{d['id']}: problem copies its seed snippet ({copied[1]})")
    return verdict(key, name, problems, {"documents": len(docs), "problems": _listed(problems)})


def drop_rate_result(step: str, stats: dict, thresholds: dict | None = None) -> dg.AssetCheckResult:
    band = (thresholds or check_thresholds())["synthesis"][step]["drop_rate"]
    what = "segments" if step == SUMMARIES else "documents"
    return rate_band_check(KEYS[step], "drop_rate_in_band", stats["failed_validation"], stats["attempted"], band,
                           what, {"rejections_by_reason": counts_table(stats["drops_by_reason"], key="reason")})


def provenance_result(lake: Lake, step: str, category: str, config: SynthesisConfig) -> dg.AssetCheckResult:
    key = KEYS[step]
    docs = _rows(lake, step, category, ["id", "mixture_slice", "bucket", "synthesis_provenance"])
    if not docs:
        return cannot_judge(key, "provenance_complete", f"no documents in {category}: no provenance to check",
                            {"documents": 0})
    template = config.templates()[config.template_name(step)]
    problems = []
    for d in docs:
        try:
            prov = json.loads(d["synthesis_provenance"])
        except (TypeError, json.JSONDecodeError):
            problems.append(f"{d['id']}: synthesis_provenance is not JSON")
            continue
        missing = [k for k in PROVENANCE_KEYS if prov.get(k) in (None, "")]
        if missing:
            problems.append(f"{d['id']}: provenance lacks {missing}")
        elif prov["template_sha256"] != template.file_sha256 or prov["prompt_sha256"] != template.digest:
            problems.append(f"{d['id']}: template {prov['template']!r} hash does not match the shipped file")
        elif d["mixture_slice"] != mixture_slice(STAGES[step], category, d["bucket"]):
            problems.append(f"{d['id']}: mixture_slice {d['mixture_slice']!r} does not match category and bucket")
    return verdict(key, "provenance_complete", problems, {"documents": len(docs), "problems": _listed(problems)})


def gx_result(lake: Lake, step: str, category: str) -> dg.AssetCheckResult:
    frame = check_frame(lake, STAGES[step], category, extra_columns=("parent_id", "model", "mixture_slice",
                                                                      "synthesis_provenance"))
    parents = {i for b in lake.iter_batches("scored", category, columns=["id"]) for i in b.column("id").to_pylist()}
    ex = expectations()
    pattern = rf"^{re.escape(STAGES[step])}_{re.escape(category)}(-[A-Za-z0-9_.-]+)?$"
    suite = [
        *document_suite(category),
        *(ex.ExpectColumnValuesToNotBeNull(column=c) for c in ("parent_id", "model", "synthesis_provenance")),
        ex.ExpectColumnValuesToBeInSet(column="parent_id", value_set=sorted(parents) or [""]),
        ex.ExpectColumnValuesToMatchRegex(column="mixture_slice", regex=pattern),
    ]
    return run_suite("gx_synthetic_valid", KEYS[step], frame, suite)


def check_results(lake: Lake, step: str, category: str, stats: dict, config: SynthesisConfig,
                  thresholds: dict | None = None) -> list[dg.AssetCheckResult]:
    """The results for every spec in ``CHECK_SPECS[step]``, in order."""
    if step == CHUNKS:
        return [coverage_result(lake, category, config)]
    if step == SUMMARIES:
        return [summaries_result(lake, category, config), drop_rate_result(step, stats, thresholds)]
    first = instruction_result if step == COT else qa_result
    return [first(lake, category, config), drop_rate_result(step, stats, thresholds),
            provenance_result(lake, step, category, config), gx_result(lake, step, category)]
